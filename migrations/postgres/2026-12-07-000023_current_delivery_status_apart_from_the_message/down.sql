UPDATE messages m SET delivery_status = d.status, delivery_status_at = d.status_at
FROM message_delivery d WHERE d.message_id = m.id;
DROP TABLE message_delivery;
