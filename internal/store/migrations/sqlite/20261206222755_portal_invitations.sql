-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_user_tokens" table
CREATE TABLE `new_user_tokens` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `user_id` text NULL, `patient_id` text NULL, `purpose` text NOT NULL, `token_hash` text NOT NULL, `expires_at` datetime NOT NULL, `used_at` datetime NULL, `created_by` text NULL, PRIMARY KEY (`id`));
-- Copy rows from old table "user_tokens" to new temporary table "new_user_tokens"
INSERT INTO `new_user_tokens` (`id`, `created_at`, `updated_at`, `user_id`, `purpose`, `token_hash`, `expires_at`, `used_at`, `created_by`) SELECT `id`, `created_at`, `updated_at`, `user_id`, `purpose`, `token_hash`, `expires_at`, `used_at`, `created_by` FROM `user_tokens`;
-- Drop "user_tokens" table after copying rows
DROP TABLE `user_tokens`;
-- Rename temporary table "new_user_tokens" to "user_tokens"
ALTER TABLE `new_user_tokens` RENAME TO `user_tokens`;
-- Create index "user_tokens_token_hash_key" to table: "user_tokens"
CREATE UNIQUE INDEX `user_tokens_token_hash_key` ON `user_tokens` (`token_hash`);
-- Create index "usertoken_user_id_purpose" to table: "user_tokens"
CREATE INDEX `usertoken_user_id_purpose` ON `user_tokens` (`user_id`, `purpose`);
-- Create index "usertoken_patient_id_purpose" to table: "user_tokens"
CREATE INDEX `usertoken_patient_id_purpose` ON `user_tokens` (`patient_id`, `purpose`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
