-- The same writes as before (0004, 0006), for less of PostgreSQL's time per write. chat_append_event was a SQL
-- function called from PL/pgSQL: it is never inlined there, so its statement was parsed and planned again on
-- every call, which cost a post more than the update and the insert themselves. As PL/pgSQL its statements are
-- planned once per connection. Its signature, its result and what it writes are unchanged.
CREATE OR REPLACE FUNCTION chat_append_event(
	p_room uuid, p_id uuid, p_type text, p_user uuid, p_text text, p_client_msg_id text, p_member_delta integer,
	p_reply_to bigint DEFAULT NULL, p_target bigint DEFAULT NULL, p_key text DEFAULT NULL
) RETURNS SETOF rooms LANGUAGE plpgsql AS $$
DECLARE
	v_room rooms;
BEGIN
	UPDATE rooms SET last_seq = last_seq + 1, member_count = member_count + p_member_delta
	WHERE id = p_room RETURNING * INTO v_room;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	INSERT INTO room_events (id, room_id, seq, type, user_id, text, client_msg_id, reply_to, target, key)
	VALUES (p_id, p_room, v_room.last_seq, p_type, p_user, p_text, p_client_msg_id, p_reply_to, p_target, p_key);
	RETURN NEXT v_room;
END
$$;
--> statement-breakpoint
-- A post, as before (0006). The lock and the append are called as expressions, which PL/pgSQL evaluates without
-- starting a query for them; the read marker moves to the seq the append returned.
CREATE OR REPLACE FUNCTION chat_post_message(
	p_id uuid, p_room uuid, p_user uuid, p_text text, p_client_msg_id text, p_reply_to bigint
) RETURNS SETOF chat_written LANGUAGE plpgsql AS $$
DECLARE
	v_existing uuid;
	v_refusal text;
	v_seq bigint;
BEGIN
	v_refusal := (chat_lock_member(p_room, p_user)).refusal;
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
	v_seq := (chat_append_event(p_room, p_id, 'message', p_user, p_text, p_client_msg_id, 0, p_reply_to)).last_seq;
	UPDATE memberships SET last_read_seq = v_seq
	WHERE room_id = p_room AND user_id = p_user AND last_read_seq < v_seq;
	RETURN QUERY SELECT * FROM chat_written('created', p_id);
END
$$;
--> statement-breakpoint
-- Writes that arrive together, as before (0004): one round trip and one commit, each write with its own outcome
-- and its index in the array. The posts of a batch are now stored by a few statements for all of them instead of
-- several statements each:
--   1. every room of the batch is locked, in the order of their ids as every statement that locks several rooms
--      does, so two batches never wait on each other;
--   2. one statement judges every post after the lock (a leave or a deletion that committed meanwhile is seen),
--      in the same order as chat_post_message: room, membership, a clientMsgId stored already, the reply; numbers
--      the accepted ones with their room's next seqs in the order they came; stores them; moves last_seq and the
--      posters' read markers; and returns each one. A post repeating the clientMsgId of an earlier one of the
--      same batch is answered with that one's event, as if it had come second on its own.
--   3. the changes (edits, deletions, reactions) follow one by one, as before, taking the seqs after the posts'.
-- Posts and changes asked for at once have no order between them a client could see: a change names a message
-- stored before it was asked for, never one of the same batch.
-- An accepted post's answer is built here from what was stored (a new message has no reactions and no changes),
-- the same row room_event_states gives for it.
CREATE OR REPLACE FUNCTION chat_write_events(p_writes jsonb) RETURNS SETOF chat_written LANGUAGE plpgsql AS $$
DECLARE
	v_change record;
	v_written chat_written;
BEGIN
	PERFORM 1 FROM rooms
	WHERE id IN (SELECT (e.value->>'roomId')::uuid FROM jsonb_array_elements(p_writes) AS e)
	ORDER BY id FOR UPDATE;

	RETURN QUERY
	WITH w AS (
		SELECT (e.ord - 1)::integer AS idx, (e.v->>'id')::uuid AS id, (e.v->>'roomId')::uuid AS room_id,
			(e.v->>'userId')::uuid AS user_id, e.v->>'text' AS text, e.v->>'clientMsgId' AS client_msg_id,
			(e.v->>'replyTo')::bigint AS reply_to
		FROM jsonb_array_elements(p_writes) WITH ORDINALITY AS e(v, ord)
		WHERE e.v->>'kind' = 'post'
	), checked AS (
		SELECT w.*, r.last_seq AS base, stored.id AS stored_id,
			CASE
				WHEN r.id IS NULL THEN 'room_not_found'
				WHEN NOT EXISTS (SELECT 1 FROM memberships m WHERE m.room_id = w.room_id AND m.user_id = w.user_id)
					THEN 'not_member'
				WHEN stored.id IS NOT NULL THEN 'existing'
				WHEN w.reply_to IS NOT NULL AND NOT EXISTS (
					SELECT 1 FROM room_events e WHERE e.room_id = w.room_id AND e.seq = w.reply_to AND e.type = 'message'
				) THEN 'message_not_found'
				ELSE 'created'
			END AS outcome
		FROM w
		LEFT JOIN rooms r ON r.id = w.room_id
		LEFT JOIN room_events stored ON w.client_msg_id IS NOT NULL AND stored.room_id = w.room_id
			AND stored.user_id = w.user_id AND stored.client_msg_id = w.client_msg_id
	), judged AS (
		SELECT c.idx, c.id, c.room_id, c.user_id, c.text, c.client_msg_id, c.reply_to, c.base, c.stored_id,
			CASE WHEN c.outcome = 'created' AND c.client_msg_id IS NOT NULL AND row_number() OVER (
				PARTITION BY c.room_id, c.user_id, c.client_msg_id, c.outcome ORDER BY c.idx
			) > 1 THEN 'repeated' ELSE c.outcome END AS outcome
		FROM checked c
	), numbered AS (
		SELECT j.*, j.base + row_number() OVER (PARTITION BY j.room_id ORDER BY j.idx) AS seq
		FROM judged j WHERE j.outcome = 'created'
	), inserted AS (
		INSERT INTO room_events (id, room_id, seq, type, user_id, text, client_msg_id, reply_to)
		SELECT n.id, n.room_id, n.seq, 'message', n.user_id, n.text, n.client_msg_id, n.reply_to FROM numbered n
		RETURNING id, created_at
	), moved AS (
		UPDATE rooms r SET last_seq = n.seq
		FROM (SELECT room_id, max(seq) AS seq FROM numbered GROUP BY room_id) n WHERE r.id = n.room_id
	), marked AS (
		UPDATE memberships m SET last_read_seq = greatest(m.last_read_seq, n.seq)
		FROM (SELECT room_id, user_id, max(seq) AS seq FROM numbered GROUP BY room_id, user_id) n
		WHERE m.room_id = n.room_id AND m.user_id = n.user_id
	), answered AS (
		-- the accepted posts, and those repeating one of them
		SELECT j.idx, CASE WHEN j.outcome = 'created' THEN 'created' ELSE 'existing' END AS outcome, n.id, n.room_id,
			n.seq, n.user_id, n.text, n.client_msg_id, n.reply_to
		FROM judged j JOIN numbered n ON n.id = j.id OR (j.outcome = 'repeated' AND n.room_id = j.room_id
			AND n.user_id = j.user_id AND n.client_msg_id = j.client_msg_id)
		WHERE j.outcome IN ('created', 'repeated')
	)
	SELECT a.idx, a.outcome, a.id, a.room_id, a.seq, 'message'::text, a.user_id, a.text, a.client_msg_id,
		a.reply_to, NULL::bigint, NULL::text, NULL::timestamptz, NULL::timestamptz, i.created_at, u.username,
		u.display_name, u.created_at, '[]'::json
	FROM answered a JOIN inserted i ON i.id = a.id JOIN users u ON u.id = a.user_id
	UNION ALL
	SELECT j.idx, s.outcome, s.id, s.room_id, s.seq, s.type, s.user_id, s.text, s.client_msg_id, s.reply_to,
		s.target, s.key, s.edited_at, s.deleted_at, s.created_at, s.username, s.display_name, s.user_created_at,
		s.reactions
	FROM judged j, LATERAL chat_written(j.outcome, j.stored_id) s
	WHERE j.outcome NOT IN ('created', 'repeated');

	FOR v_change IN
		SELECT (e.ordinality - 1)::integer AS i, e.value AS v
		FROM jsonb_array_elements(p_writes) WITH ORDINALITY AS e
		WHERE e.value->>'kind' <> 'post'
		ORDER BY (e.value->>'roomId')::uuid, e.ordinality
	LOOP
		SELECT * INTO v_written FROM chat_change_message(
			(v_change.v->>'id')::uuid, (v_change.v->>'roomId')::uuid, (v_change.v->>'userId')::uuid,
			v_change.v->>'kind', (v_change.v->>'seq')::bigint, v_change.v->>'text', v_change.v->>'key'
		);
		v_written.idx := v_change.i;
		RETURN NEXT v_written;
	END LOOP;
END
$$;
