-- Posts that arrive together are stored in one transaction, so that they share one round trip and one commit.
-- Rooms are locked in the order of their ids (posts to one room in the order they came), the same order as
-- every other statement that locks several rooms, so two batches can never wait on each other. Each post keeps
-- its own outcome; the index in the array comes back with it.
CREATE FUNCTION chat_post_messages(p_posts jsonb)
RETURNS TABLE (
	idx integer, outcome text, id uuid, room_id uuid, seq bigint, type text, text text, client_msg_id text,
	created_at timestamptz, user_id uuid, username text, display_name text, user_created_at timestamptz
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	post record;
BEGIN
	FOR post IN
		SELECT (e.ordinality - 1)::integer AS i, e.value AS v
		FROM jsonb_array_elements(p_posts) WITH ORDINALITY AS e
		ORDER BY (e.value->>'roomId')::uuid, e.ordinality
	LOOP
		RETURN QUERY SELECT post.i, m.* FROM chat_post_message(
			(post.v->>'id')::uuid, (post.v->>'roomId')::uuid, (post.v->>'userId')::uuid,
			post.v->>'text', post.v->>'clientMsgId'
		) AS m;
	END LOOP;
END
$$;
