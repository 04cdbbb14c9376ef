-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_messages" table
CREATE TABLE `new_messages` (`id` text NOT NULL, `seq` integer NOT NULL, `kind` text NOT NULL DEFAULT ('USER'), `body` text NOT NULL, `sms` bool NOT NULL DEFAULT (false), `client_message_id` text NULL, `created_at` datetime NOT NULL, `txid` integer NOT NULL DEFAULT (0), `channel_id` text NOT NULL, `sender_id` text NULL, `sender_patient_id` text NULL, `reply_to_id` text NULL, PRIMARY KEY (`id`), CONSTRAINT `messages_channels_messages` FOREIGN KEY (`channel_id`) REFERENCES `channels` (`id`) ON DELETE NO ACTION, CONSTRAINT `messages_users_sender` FOREIGN KEY (`sender_id`) REFERENCES `users` (`id`) ON DELETE SET NULL, CONSTRAINT `messages_patients_sender_patient` FOREIGN KEY (`sender_patient_id`) REFERENCES `patients` (`id`) ON DELETE SET NULL, CONSTRAINT `messages_messages_replies` FOREIGN KEY (`reply_to_id`) REFERENCES `messages` (`id`) ON DELETE SET NULL);
-- Copy rows from old table "messages" to new temporary table "new_messages"
INSERT INTO `new_messages` (`id`, `seq`, `kind`, `body`, `sms`, `client_message_id`, `created_at`, `txid`, `channel_id`, `sender_id`, `sender_patient_id`, `reply_to_id`) SELECT `id`, `seq`, `kind`, `body`, `sms`, `client_message_id`, `created_at`, `txid`, `channel_id`, `sender_id`, `sender_patient_id`, `reply_to_id` FROM `messages`;
-- Drop "messages" table after copying rows
DROP TABLE `messages`;
-- Rename temporary table "new_messages" to "messages"
ALTER TABLE `new_messages` RENAME TO `messages`;
-- Create index "message_channel_id_seq" to table: "messages"
CREATE UNIQUE INDEX `message_channel_id_seq` ON `messages` (`channel_id`, `seq`);
-- Create index "message_sender_id_client_message_id" to table: "messages"
CREATE UNIQUE INDEX `message_sender_id_client_message_id` ON `messages` (`sender_id`, `client_message_id`) WHERE client_message_id IS NOT NULL;
-- Create index "message_sender_patient_id_client_message_id" to table: "messages"
CREATE UNIQUE INDEX `message_sender_patient_id_client_message_id` ON `messages` (`sender_patient_id`, `client_message_id`) WHERE client_message_id IS NOT NULL;
-- Create index "message_created_at" to table: "messages"
CREATE INDEX `message_created_at` ON `messages` (`created_at`);
-- Create index "message_sender_id_created_at" to table: "messages"
CREATE INDEX `message_sender_id_created_at` ON `messages` (`sender_id`, `created_at`);
-- Create index "message_txid_channel_id_seq" to table: "messages"
CREATE INDEX `message_txid_channel_id_seq` ON `messages` (`txid`, `channel_id`, `seq`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
