-- Drop index "message_sender_id_client_message_id" from table: "messages"
DROP INDEX "message_sender_id_client_message_id";
-- Drop index "message_sender_patient_id_client_message_id" from table: "messages"
DROP INDEX "message_sender_patient_id_client_message_id";
-- Create index "message_sender_id_client_message_id" to table: "messages"
CREATE UNIQUE INDEX "message_sender_id_client_message_id" ON "messages" ("sender_id", "client_message_id") WHERE (client_message_id IS NOT NULL);
-- Create index "message_sender_patient_id_client_message_id" to table: "messages"
CREATE UNIQUE INDEX "message_sender_patient_id_client_message_id" ON "messages" ("sender_patient_id", "client_message_id") WHERE (client_message_id IS NOT NULL);
