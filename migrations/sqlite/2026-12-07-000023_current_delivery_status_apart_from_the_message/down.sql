UPDATE messages SET (delivery_status, delivery_status_at) =
    (SELECT status, status_at FROM message_delivery d WHERE d.message_id = messages.id)
WHERE id IN (SELECT message_id FROM message_delivery);
DROP TABLE message_delivery;
