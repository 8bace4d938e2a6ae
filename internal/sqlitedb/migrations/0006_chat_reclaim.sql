-- Chats whose people are gone. Owned by package chat (SQLiteStore.Reclaim).
--
-- agent_missing_since: when routing first found the assigned agent of an
-- active chat without any live connection; cleared when the agent is back.
-- After a grace period the chat goes back to the queue.
--
-- customer_seen_at: the last time the customer had a socket open on the
-- conversation (hello, a message, or a node's periodic refresh while the
-- socket lives). A waiting chat whose customer has been gone for a while is
-- closed, so that nobody is offered a chat with no one in it.
ALTER TABLE chat_conversations ADD COLUMN agent_missing_since TEXT;
ALTER TABLE chat_conversations ADD COLUMN customer_seen_at TEXT;
