-- Appending to a room's log, in the database so that a post is one round trip. Both functions expect to run
-- inside the caller's transaction (a single statement is one), and chat_append_event expects the room's row
-- to be locked already: that lock is what makes seq = last_seq + 1 gapless and unique under any number of
-- concurrent writers on any number of nodes.
CREATE FUNCTION chat_append_event(
	p_room uuid, p_id uuid, p_type text, p_user uuid, p_text text, p_client_msg_id text, p_member_delta integer
) RETURNS SETOF rooms LANGUAGE sql AS $$
	WITH room AS (
		UPDATE rooms SET last_seq = last_seq + 1, member_count = member_count + p_member_delta
		WHERE id = p_room RETURNING *
	), event AS (
		INSERT INTO room_events (id, room_id, seq, type, user_id, text, client_msg_id)
		SELECT p_id, p_room, room.last_seq, p_type, p_user, p_text, p_client_msg_id FROM room
	)
	SELECT * FROM room
$$;
--> statement-breakpoint
-- A post: lock the room, check membership (read after the lock, so a leave that committed meanwhile is seen),
-- answer a repeated clientMsgId with the first event, else append. Returns one row: the outcome
-- (created, existing, room_not_found, not_member) and, for the first two, the event with its author.
CREATE FUNCTION chat_post_message(p_id uuid, p_room uuid, p_user uuid, p_text text, p_client_msg_id text)
RETURNS TABLE (
	outcome text, id uuid, room_id uuid, seq bigint, type text, text text, client_msg_id text,
	created_at timestamptz, user_id uuid, username text, display_name text, user_created_at timestamptz
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	v_event uuid := p_id;
	v_outcome text := 'created';
BEGIN
	PERFORM 1 FROM rooms WHERE rooms.id = p_room FOR UPDATE;
	IF NOT FOUND THEN
		RETURN QUERY SELECT 'room_not_found', NULL::uuid, NULL::uuid, NULL::bigint, NULL, NULL, NULL,
			NULL::timestamptz, NULL::uuid, NULL, NULL, NULL::timestamptz;
		RETURN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM memberships m WHERE m.room_id = p_room AND m.user_id = p_user) THEN
		RETURN QUERY SELECT 'not_member', NULL::uuid, NULL::uuid, NULL::bigint, NULL, NULL, NULL,
			NULL::timestamptz, NULL::uuid, NULL, NULL, NULL::timestamptz;
		RETURN;
	END IF;
	IF p_client_msg_id IS NOT NULL THEN
		SELECT e.id INTO v_event FROM room_events e
		WHERE e.room_id = p_room AND e.user_id = p_user AND e.client_msg_id = p_client_msg_id;
		IF FOUND THEN
			v_outcome := 'existing';
		ELSE
			v_event := p_id;
		END IF;
	END IF;
	IF v_outcome = 'created' THEN
		PERFORM chat_append_event(p_room, p_id, 'message', p_user, p_text, p_client_msg_id, 0);
	END IF;
	RETURN QUERY SELECT v_outcome, e.id, e.room_id, e.seq, e.type, e.text, e.client_msg_id, e.created_at,
		u.id, u.username, u.display_name, u.created_at
	FROM room_events e JOIN users u ON u.id = e.user_id WHERE e.id = v_event;
END
$$;
