"""Chat delivery: conversations, validated sends with a per-conversation sequence, inboxes
(fan-out on read through per-device consumers), history, broadcast."""
