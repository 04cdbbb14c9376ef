-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_channels" table
CREATE TABLE `new_channels` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `kind` text NOT NULL, `name` text NOT NULL DEFAULT (''), `topic` text NULL, `unique_key` text NULL, `last_seq` integer NOT NULL DEFAULT (0), `last_txid` integer NOT NULL DEFAULT (0), `message_count` integer NOT NULL DEFAULT (0), `patient_read_seq` integer NOT NULL DEFAULT (0), `last_activity_at` datetime NOT NULL, `member_version` integer NOT NULL DEFAULT (0), `patient_id` text NULL, `security_group_id` text NULL, PRIMARY KEY (`id`), CONSTRAINT `channels_patients_patient` FOREIGN KEY (`patient_id`) REFERENCES `patients` (`id`) ON DELETE SET NULL, CONSTRAINT `channels_security_groups_security_group` FOREIGN KEY (`security_group_id`) REFERENCES `security_groups` (`id`) ON DELETE SET NULL);
-- Copy rows from old table "channels" to new temporary table "new_channels"
INSERT INTO `new_channels` (`id`, `created_at`, `updated_at`, `kind`, `name`, `topic`, `unique_key`, `last_seq`, `last_txid`, `message_count`, `patient_read_seq`, `last_activity_at`, `patient_id`, `security_group_id`) SELECT `id`, `created_at`, `updated_at`, `kind`, `name`, `topic`, `unique_key`, `last_seq`, `last_txid`, `message_count`, `patient_read_seq`, `last_activity_at`, `patient_id`, `security_group_id` FROM `channels`;
-- Drop "channels" table after copying rows
DROP TABLE `channels`;
-- Rename temporary table "new_channels" to "channels"
ALTER TABLE `new_channels` RENAME TO `channels`;
-- Create index "channels_unique_key_key" to table: "channels"
CREATE UNIQUE INDEX `channels_unique_key_key` ON `channels` (`unique_key`);
-- Create index "channel_kind_last_activity_at" to table: "channels"
CREATE INDEX `channel_kind_last_activity_at` ON `channels` (`kind`, `last_activity_at`);
-- Create index "channel_patient_id" to table: "channels"
CREATE INDEX `channel_patient_id` ON `channels` (`patient_id`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
