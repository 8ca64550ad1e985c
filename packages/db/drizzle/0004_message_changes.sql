CREATE TABLE "message_reactions" (
	"room_id" uuid NOT NULL,
	"seq" bigint NOT NULL,
	"key" text NOT NULL,
	"user_id" uuid NOT NULL,
	"event_seq" bigint NOT NULL,
	CONSTRAINT "message_reactions_room_id_seq_key_user_id_pk" PRIMARY KEY("room_id","seq","key","user_id")
);
--> statement-breakpoint
ALTER TABLE "room_events" DROP CONSTRAINT "room_events_type";--> statement-breakpoint
ALTER TABLE "room_events" ADD COLUMN "reply_to" bigint;--> statement-breakpoint
ALTER TABLE "room_events" ADD COLUMN "target" bigint;--> statement-breakpoint
ALTER TABLE "room_events" ADD COLUMN "key" text;--> statement-breakpoint
ALTER TABLE "room_events" ADD COLUMN "edited_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "room_events" ADD COLUMN "deleted_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "message_reactions" ADD CONSTRAINT "message_reactions_room_id_rooms_id_fk" FOREIGN KEY ("room_id") REFERENCES "public"."rooms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "message_reactions" ADD CONSTRAINT "message_reactions_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "room_events_target" ON "room_events" USING btree ("room_id","target","type") WHERE "room_events"."target" is not null;--> statement-breakpoint
ALTER TABLE "room_events" ADD CONSTRAINT "room_events_type" CHECK ("room_events"."type" in ('message', 'member.joined', 'member.left', 'message.edited', 'message.deleted', 'reaction.added', 'reaction.removed'));--> statement-breakpoint
-- An event as clients read it: with its author, and, on a message, its current reactions. Every read of the log
-- and every write's answer comes from here, so history, replays and responses cannot disagree.
CREATE FUNCTION chat_reactions(p_room uuid, p_seq bigint) RETURNS json LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN (
		SELECT coalesce(json_agg(json_build_object('key', r.key, 'count', r.n, 'userIds', r.user_ids) ORDER BY r.first), '[]'::json)
		FROM (
			SELECT key, count(*)::integer AS n, min(event_seq) AS first,
				(array_agg(user_id ORDER BY event_seq))[1:50] AS user_ids
			FROM message_reactions WHERE room_id = p_room AND seq = p_seq GROUP BY key
		) r
	);
END
$$;
--> statement-breakpoint
CREATE VIEW room_event_states AS
	SELECT e.id, e.room_id, e.seq, e.type, e.user_id, e.text, e.client_msg_id, e.reply_to, e.target, e.key,
		e.edited_at, e.deleted_at, e.created_at, u.username, u.display_name, u.created_at AS user_created_at,
		CASE WHEN e.type = 'message' THEN chat_reactions(e.room_id, e.seq) END AS reactions
	FROM room_events e JOIN users u ON u.id = e.user_id;
--> statement-breakpoint
-- What every write returns: its outcome and, when there is one, the event (a row of room_event_states); idx is
-- the write's place in a batch.
CREATE TYPE chat_written AS (
	idx integer, outcome text, id uuid, room_id uuid, seq bigint, type text, user_id uuid, text text,
	client_msg_id text, reply_to bigint, target bigint, key text, edited_at timestamptz, deleted_at timestamptz,
	created_at timestamptz, username text, display_name text, user_created_at timestamptz, reactions json
);
--> statement-breakpoint
-- A write that created its event knows a new message has no reactions; only one found stored reads them.
CREATE FUNCTION chat_written(p_outcome text, p_event uuid) RETURNS SETOF chat_written LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY SELECT NULL::integer, p_outcome, s.id, s.room_id, s.seq, s.type, s.user_id, s.text, s.client_msg_id,
		s.reply_to, s.target, s.key, s.edited_at, s.deleted_at, s.created_at, s.username, s.display_name,
		s.user_created_at,
		CASE WHEN s.type = 'message' THEN
			CASE WHEN p_outcome = 'created' THEN '[]'::json ELSE chat_reactions(s.room_id, s.seq) END
		END
	FROM (SELECT 1) AS one LEFT JOIN room_event_states s ON s.id = p_event;
END
$$;
--> statement-breakpoint
DROP FUNCTION chat_post_messages(jsonb);
--> statement-breakpoint
DROP FUNCTION chat_post_message(uuid, uuid, uuid, text, text);
--> statement-breakpoint
DROP FUNCTION chat_append_event(uuid, uuid, text, uuid, text, text, integer);
--> statement-breakpoint
-- As before (0001), with the fields of replies and changes.
CREATE FUNCTION chat_append_event(
	p_room uuid, p_id uuid, p_type text, p_user uuid, p_text text, p_client_msg_id text, p_member_delta integer,
	p_reply_to bigint DEFAULT NULL, p_target bigint DEFAULT NULL, p_key text DEFAULT NULL
) RETURNS SETOF rooms LANGUAGE sql AS $$
	WITH room AS (
		UPDATE rooms SET last_seq = last_seq + 1, member_count = member_count + p_member_delta
		WHERE id = p_room RETURNING *
	), event AS (
		INSERT INTO room_events (id, room_id, seq, type, user_id, text, client_msg_id, reply_to, target, key)
		SELECT p_id, p_room, room.last_seq, p_type, p_user, p_text, p_client_msg_id, p_reply_to, p_target, p_key
		FROM room
	)
	SELECT * FROM room
$$;
--> statement-breakpoint
-- Every write to a room's log starts here: the room's row is locked (the lock that orders its seqs), then read
-- is whether the user is a member, after the lock, so a leave that committed meanwhile is seen. `refusal` is
-- null when the write may go on (with the room's owner), else its outcome.
CREATE FUNCTION chat_lock_member(p_room uuid, p_user uuid, OUT refusal text, OUT owner uuid) LANGUAGE plpgsql AS $$
BEGIN
	SELECT r.owner_id INTO owner FROM rooms r WHERE r.id = p_room FOR UPDATE;
	IF NOT FOUND THEN
		refusal := 'room_not_found';
	ELSIF NOT EXISTS (SELECT 1 FROM memberships m WHERE m.room_id = p_room AND m.user_id = p_user) THEN
		refusal := 'not_member';
	END IF;
END
$$;
--> statement-breakpoint
-- A post, as before (0001), and a reply must name a message of the same room. A repeated clientMsgId answers
-- with the first event before anything else is looked at.
CREATE FUNCTION chat_post_message(
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
	RETURN QUERY SELECT * FROM chat_written('created', p_id);
END
$$;
--> statement-breakpoint
-- A change of a message (p_kind: edit, delete, react, unreact), under the room's lock like a post, so it takes
-- the next seq and concurrent changes of one message are applied one after another. The message's row holds its
-- current state (text, edited_at, deleted_at) and message_reactions its reactions; the change is logged as its
-- own event. A deletion erases the text from the message and from every message.edited of it. Outcomes: created,
-- existing (deleted already: the first deletion), unchanged (a reaction that changes nothing), room_not_found,
-- not_member, message_not_found, not_author, forbidden, message_deleted.
CREATE FUNCTION chat_change_message(
	p_id uuid, p_room uuid, p_user uuid, p_kind text, p_seq bigint, p_text text, p_key text
) RETURNS SETOF chat_written LANGUAGE plpgsql AS $$
DECLARE
	v_owner uuid;
	v_message room_events;
	v_existing uuid;
	v_type text;
	v_changed integer;
	v_refusal text;
BEGIN
	SELECT l.refusal, l.owner INTO v_refusal, v_owner FROM chat_lock_member(p_room, p_user) l;
	IF v_refusal IS NOT NULL THEN
		RETURN QUERY SELECT * FROM chat_written(v_refusal, NULL);
		RETURN;
	END IF;
	SELECT * INTO v_message FROM room_events e WHERE e.room_id = p_room AND e.seq = p_seq AND e.type = 'message';
	IF NOT FOUND THEN
		RETURN QUERY SELECT * FROM chat_written('message_not_found', NULL);
		RETURN;
	END IF;
	IF p_kind = 'delete' THEN
		IF v_message.user_id <> p_user AND v_owner <> p_user THEN
			RETURN QUERY SELECT * FROM chat_written('forbidden', NULL);
			RETURN;
		END IF;
		IF v_message.deleted_at IS NOT NULL THEN
			SELECT e.id INTO v_existing FROM room_events e
			WHERE e.room_id = p_room AND e.target = p_seq AND e.type = 'message.deleted';
			RETURN QUERY SELECT * FROM chat_written('existing', v_existing);
			RETURN;
		END IF;
		UPDATE room_events SET text = NULL, deleted_at = now() WHERE id = v_message.id;
		UPDATE room_events SET text = NULL WHERE room_id = p_room AND target = p_seq AND type = 'message.edited';
		DELETE FROM message_reactions WHERE room_id = p_room AND seq = p_seq;
		PERFORM chat_append_event(p_room, p_id, 'message.deleted', p_user, NULL, NULL, 0, NULL, p_seq);
		RETURN QUERY SELECT * FROM chat_written('created', p_id);
		RETURN;
	END IF;
	IF v_message.deleted_at IS NOT NULL THEN
		RETURN QUERY SELECT * FROM chat_written('message_deleted', NULL);
		RETURN;
	END IF;
	IF p_kind = 'edit' THEN
		IF v_message.user_id <> p_user THEN
			RETURN QUERY SELECT * FROM chat_written('not_author', NULL);
			RETURN;
		END IF;
		UPDATE room_events SET text = p_text, edited_at = now() WHERE id = v_message.id;
		v_type := 'message.edited';
	ELSE
		IF p_kind = 'react' THEN
			v_type := 'reaction.added';
			INSERT INTO message_reactions (room_id, seq, key, user_id, event_seq)
			SELECT p_room, p_seq, p_key, p_user, r.last_seq + 1 FROM rooms r WHERE r.id = p_room
			ON CONFLICT DO NOTHING;
			GET DIAGNOSTICS v_changed = ROW_COUNT;
		ELSE
			v_type := 'reaction.removed';
			DELETE FROM message_reactions
			WHERE room_id = p_room AND seq = p_seq AND key = p_key AND user_id = p_user;
			GET DIAGNOSTICS v_changed = ROW_COUNT;
		END IF;
		IF v_changed = 0 THEN
			RETURN QUERY SELECT * FROM chat_written('unchanged', NULL);
			RETURN;
		END IF;
	END IF;
	PERFORM chat_append_event(
		p_room, p_id, v_type, p_user, CASE WHEN p_kind = 'edit' THEN p_text END, NULL, 0, NULL, p_seq,
		CASE WHEN p_kind <> 'edit' THEN p_key END
	);
	RETURN QUERY SELECT * FROM chat_written('created', p_id);
END
$$;
--> statement-breakpoint
-- Writes that arrive together (posts and changes) are stored in one transaction: one round trip and one commit.
-- Rooms are locked in the order of their ids (writes to one room in the order they came), as every statement
-- that locks several rooms does, so two batches never wait on each other. Each write keeps its own outcome, with
-- its index in the array.
CREATE FUNCTION chat_write_events(p_writes jsonb) RETURNS SETOF chat_written LANGUAGE plpgsql AS $$
DECLARE
	w record;
	r chat_written;
BEGIN
	FOR w IN
		SELECT (e.ordinality - 1)::integer AS i, e.value AS v
		FROM jsonb_array_elements(p_writes) WITH ORDINALITY AS e
		ORDER BY (e.value->>'roomId')::uuid, e.ordinality
	LOOP
		IF w.v->>'kind' = 'post' THEN
			SELECT * INTO r FROM chat_post_message(
				(w.v->>'id')::uuid, (w.v->>'roomId')::uuid, (w.v->>'userId')::uuid, w.v->>'text',
				w.v->>'clientMsgId', (w.v->>'replyTo')::bigint
			);
		ELSE
			SELECT * INTO r FROM chat_change_message(
				(w.v->>'id')::uuid, (w.v->>'roomId')::uuid, (w.v->>'userId')::uuid, w.v->>'kind',
				(w.v->>'seq')::bigint, w.v->>'text', w.v->>'key'
			);
		END IF;
		r.idx := w.i;
		RETURN NEXT r;
	END LOOP;
END
$$;
