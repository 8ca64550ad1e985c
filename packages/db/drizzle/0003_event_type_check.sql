-- The room log stores only the event types of the contract's list (EVENT_TYPES in @chat/contracts); a new
-- type is added to that list and to this constraint by a new migration.
ALTER TABLE "room_events" ADD CONSTRAINT "room_events_type" CHECK ("room_events"."type" in ('message', 'member.joined', 'member.left'));
