ALTER TABLE "memberships" ADD COLUMN "last_read_seq" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "room_events_live_messages" ON "room_events" USING btree ("room_id","seq","user_id") WHERE "room_events"."type" = 'message' and "room_events"."deleted_at" is null;--> statement-breakpoint
-- Members from before read markers have read everything so far: an upgrade shows no old message as unread.
UPDATE "memberships" m SET "last_read_seq" = r."last_seq" FROM "rooms" r WHERE r."id" = m."room_id";
--> statement-breakpoint
-- A post, as before (0004), and it moves the poster's read marker to the post: one's own message is read.
CREATE OR REPLACE FUNCTION chat_post_message(
	p_id uuid, p_room uuid, p_user uuid, p_text text, p_client_msg_id text, p_reply_to bigint
) RETURNS SETOF chat_written LANGUAGE plpgsql AS $$
DECLARE
	v_existing uuid;
	v_refusal text;
BEGIN
	SELECT l.refusal INTO v_refusal FROM chat_lock_member(p_room, p_user) l;
	IF v_refusal IS NOT NULL THEN
		RETURN QUERY SELECT * FROM chat_written(v_refusal, NULL);
		RETURN;
	END IF;
	IF p_client_msg_id IS NOT NULL THEN
		SELECT e.id INTO v_existing FROM room_events e
		WHERE e.room_id = p_room AND e.user_id = p_user AND e.client_msg_id = p_client_msg_id;
		IF FOUND THEN
			RETURN QUERY SELECT * FROM chat_written('existing', v_existing);
			RETURN;
		END IF;
	END IF;
	IF p_reply_to IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM room_events e WHERE e.room_id = p_room AND e.seq = p_reply_to AND e.type = 'message'
	) THEN
		RETURN QUERY SELECT * FROM chat_written('message_not_found', NULL);
		RETURN;
	END IF;
	PERFORM chat_append_event(p_room, p_id, 'message', p_user, p_text, p_client_msg_id, 0, p_reply_to);
	UPDATE memberships m SET last_read_seq = greatest(m.last_read_seq, r.last_seq)
	FROM rooms r WHERE r.id = p_room AND m.room_id = p_room AND m.user_id = p_user;
	RETURN QUERY SELECT * FROM chat_written('created', p_id);
END
$$;
--> statement-breakpoint
-- Moves a member's read marker forward to p_seq. The row's update is the only lock taken: two devices racing
-- each re-check `last_read_seq < p_seq` against the other's committed marker, so the marker never moves back.
-- Outcomes: moved, unchanged (the marker is at or past p_seq), room_not_found, not_member, out_of_range (past the
-- room's last_seq).
CREATE FUNCTION chat_mark_read(p_room uuid, p_user uuid, p_seq bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v_last bigint;
BEGIN
	UPDATE memberships m SET last_read_seq = p_seq FROM rooms r
	WHERE m.room_id = p_room AND m.user_id = p_user AND r.id = p_room AND m.last_read_seq < p_seq
		AND p_seq <= r.last_seq;
	IF FOUND THEN
		RETURN 'moved';
	END IF;
	SELECT r.last_seq INTO v_last FROM rooms r WHERE r.id = p_room;
	IF NOT FOUND THEN
		RETURN 'room_not_found';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM memberships m WHERE m.room_id = p_room AND m.user_id = p_user) THEN
		RETURN 'not_member';
	END IF;
	IF p_seq > v_last THEN
		RETURN 'out_of_range';
	END IF;
	RETURN 'unchanged';
END
$$;
