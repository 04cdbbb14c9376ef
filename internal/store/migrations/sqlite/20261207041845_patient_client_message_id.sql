-- Create index "message_sender_patient_id_client_message_id" to table: "messages"
CREATE UNIQUE INDEX `message_sender_patient_id_client_message_id` ON `messages` (`sender_patient_id`, `client_message_id`);
