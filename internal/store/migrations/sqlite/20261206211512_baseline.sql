-- Create "api_keys" table
CREATE TABLE `api_keys` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `key_hash` text NOT NULL, `key_prefix` text NOT NULL, `last_used_at` datetime NULL, `revoked_at` datetime NULL, `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `api_keys_users_api_keys` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION);
-- Create index "api_keys_key_hash_key" to table: "api_keys"
CREATE UNIQUE INDEX `api_keys_key_hash_key` ON `api_keys` (`key_hash`);
-- Create "access_log_entries" table
CREATE TABLE `access_log_entries` (`id` text NOT NULL, `action` text NOT NULL, `at` datetime NOT NULL, `actor_id` text NOT NULL, `patient_id` text NULL, `channel_id` text NULL, `subject_user_id` text NULL, PRIMARY KEY (`id`), CONSTRAINT `access_log_entries_users_actor` FOREIGN KEY (`actor_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION, CONSTRAINT `access_log_entries_patients_patient` FOREIGN KEY (`patient_id`) REFERENCES `patients` (`id`) ON DELETE SET NULL, CONSTRAINT `access_log_entries_channels_channel` FOREIGN KEY (`channel_id`) REFERENCES `channels` (`id`) ON DELETE SET NULL, CONSTRAINT `access_log_entries_users_subject_user` FOREIGN KEY (`subject_user_id`) REFERENCES `users` (`id`) ON DELETE SET NULL);
-- Create index "accesslogentry_at" to table: "access_log_entries"
CREATE INDEX `accesslogentry_at` ON `access_log_entries` (`at`);
-- Create index "accesslogentry_patient_id_at" to table: "access_log_entries"
CREATE INDEX `accesslogentry_patient_id_at` ON `access_log_entries` (`patient_id`, `at`);
-- Create index "accesslogentry_actor_id_at" to table: "access_log_entries"
CREATE INDEX `accesslogentry_actor_id_at` ON `access_log_entries` (`actor_id`, `at`);
-- Create "auto_reply_sents" table
CREATE TABLE `auto_reply_sents` (`id` text NOT NULL, `channel_id` text NOT NULL, `user_id` text NOT NULL, `day` text NOT NULL, `created_at` datetime NOT NULL, PRIMARY KEY (`id`));
-- Create index "autoreplysent_channel_id_user_id_day" to table: "auto_reply_sents"
CREATE UNIQUE INDEX `autoreplysent_channel_id_user_id_day` ON `auto_reply_sents` (`channel_id`, `user_id`, `day`);
-- Create "bookings" table
CREATE TABLE `bookings` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `external_id` text NULL, `starts_at` datetime NOT NULL, `status` text NOT NULL DEFAULT ('BOOKED'), `source_version` integer NOT NULL DEFAULT (0), `doctor_id` text NOT NULL, `booking_type_id` text NULL, `patient_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `bookings_users_doctor` FOREIGN KEY (`doctor_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION, CONSTRAINT `bookings_booking_types_booking_type` FOREIGN KEY (`booking_type_id`) REFERENCES `booking_types` (`id`) ON DELETE SET NULL, CONSTRAINT `bookings_patients_bookings` FOREIGN KEY (`patient_id`) REFERENCES `patients` (`id`) ON DELETE NO ACTION);
-- Create index "bookings_external_id_key" to table: "bookings"
CREATE UNIQUE INDEX `bookings_external_id_key` ON `bookings` (`external_id`);
-- Create index "booking_doctor_id_starts_at" to table: "bookings"
CREATE INDEX `booking_doctor_id_starts_at` ON `bookings` (`doctor_id`, `starts_at`);
-- Create index "booking_patient_id_starts_at" to table: "bookings"
CREATE INDEX `booking_patient_id_starts_at` ON `bookings` (`patient_id`, `starts_at`);
-- Create "booking_status_changes" table
CREATE TABLE `booking_status_changes` (`id` text NOT NULL, `from_status` text NULL, `to_status` text NOT NULL, `changed_at` datetime NOT NULL, `booking_id` text NOT NULL, `changed_by_id` text NULL, PRIMARY KEY (`id`), CONSTRAINT `booking_status_changes_bookings_status_changes` FOREIGN KEY (`booking_id`) REFERENCES `bookings` (`id`) ON DELETE NO ACTION, CONSTRAINT `booking_status_changes_users_changed_by` FOREIGN KEY (`changed_by_id`) REFERENCES `users` (`id`) ON DELETE SET NULL);
-- Create "booking_types" table
CREATE TABLE `booking_types` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `external_id` text NULL, `name` text NOT NULL, `duration_minutes` integer NOT NULL DEFAULT (15), `source_version` integer NOT NULL DEFAULT (0), PRIMARY KEY (`id`));
-- Create index "booking_types_external_id_key" to table: "booking_types"
CREATE UNIQUE INDEX `booking_types_external_id_key` ON `booking_types` (`external_id`);
-- Create "channels" table
CREATE TABLE `channels` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `kind` text NOT NULL, `name` text NOT NULL DEFAULT (''), `topic` text NULL, `unique_key` text NULL, `last_seq` integer NOT NULL DEFAULT (0), `last_txid` integer NOT NULL DEFAULT (0), `message_count` integer NOT NULL DEFAULT (0), `patient_read_seq` integer NOT NULL DEFAULT (0), `last_activity_at` datetime NOT NULL, `patient_id` text NULL, `security_group_id` text NULL, PRIMARY KEY (`id`), CONSTRAINT `channels_patients_patient` FOREIGN KEY (`patient_id`) REFERENCES `patients` (`id`) ON DELETE SET NULL, CONSTRAINT `channels_security_groups_security_group` FOREIGN KEY (`security_group_id`) REFERENCES `security_groups` (`id`) ON DELETE SET NULL);
-- Create index "channels_unique_key_key" to table: "channels"
CREATE UNIQUE INDEX `channels_unique_key_key` ON `channels` (`unique_key`);
-- Create index "channel_kind_last_activity_at" to table: "channels"
CREATE INDEX `channel_kind_last_activity_at` ON `channels` (`kind`, `last_activity_at`);
-- Create index "channel_patient_id" to table: "channels"
CREATE INDEX `channel_patient_id` ON `channels` (`patient_id`);
-- Create "channel_members" table
CREATE TABLE `channel_members` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `last_read_seq` integer NOT NULL DEFAULT (0), `channel_id` text NOT NULL, `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `channel_members_channels_channel` FOREIGN KEY (`channel_id`) REFERENCES `channels` (`id`) ON DELETE NO ACTION, CONSTRAINT `channel_members_users_user` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION);
-- Create index "channelmember_channel_id_user_id" to table: "channel_members"
CREATE UNIQUE INDEX `channelmember_channel_id_user_id` ON `channel_members` (`channel_id`, `user_id`);
-- Create index "channelmember_user_id" to table: "channel_members"
CREATE INDEX `channelmember_user_id` ON `channel_members` (`user_id`);
-- Create "consents" table
CREATE TABLE `consents` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `subject` text NOT NULL, `channel` text NOT NULL, `state` text NOT NULL, PRIMARY KEY (`id`));
-- Create index "consent_subject_channel" to table: "consents"
CREATE UNIQUE INDEX `consent_subject_channel` ON `consents` (`subject`, `channel`);
-- Create "consent_changes" table
CREATE TABLE `consent_changes` (`id` text NOT NULL, `subject` text NOT NULL, `patient_id` text NULL, `channel` text NOT NULL, `state` text NOT NULL, `source` text NOT NULL, `actor_id` text NULL, `detail` text NULL, `at` datetime NOT NULL, PRIMARY KEY (`id`));
-- Create index "consentchange_subject_at" to table: "consent_changes"
CREATE INDEX `consentchange_subject_at` ON `consent_changes` (`subject`, `at`);
-- Create index "consentchange_patient_id_at" to table: "consent_changes"
CREATE INDEX `consentchange_patient_id_at` ON `consent_changes` (`patient_id`, `at`);
-- Create "directory_log_entries" table
CREATE TABLE `directory_log_entries` (`id` text NOT NULL, `at` datetime NOT NULL, `action` text NOT NULL, `actor_id` text NULL, `actor_name` text NOT NULL, `user_id` text NULL, `user_name` text NULL, `group_id` text NULL, `group_name` text NULL, `detail` text NULL, PRIMARY KEY (`id`));
-- Create index "directorylogentry_at" to table: "directory_log_entries"
CREATE INDEX `directorylogentry_at` ON `directory_log_entries` (`at`);
-- Create index "directorylogentry_user_id_at" to table: "directory_log_entries"
CREATE INDEX `directorylogentry_user_id_at` ON `directory_log_entries` (`user_id`, `at`);
-- Create "enrollments" table
CREATE TABLE `enrollments` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `status` text NOT NULL DEFAULT ('ACTIVE'), `flagged` bool NOT NULL DEFAULT (false), `cycle` integer NOT NULL DEFAULT (1), `reference_date` datetime NOT NULL, `origin_date` datetime NULL, `next_action_id` text NULL, `answered_cycle` integer NOT NULL DEFAULT (0), `next_due_at` datetime NULL, `program_id` text NOT NULL, `patient_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `enrollments_programs_program` FOREIGN KEY (`program_id`) REFERENCES `programs` (`id`) ON DELETE NO ACTION, CONSTRAINT `enrollments_patients_patient` FOREIGN KEY (`patient_id`) REFERENCES `patients` (`id`) ON DELETE NO ACTION);
-- Create index "enrollment_status_next_due_at" to table: "enrollments"
CREATE INDEX `enrollment_status_next_due_at` ON `enrollments` (`status`, `next_due_at`);
-- Create index "enrollment_patient_id" to table: "enrollments"
CREATE INDEX `enrollment_patient_id` ON `enrollments` (`patient_id`);
-- Create index "enrollment_program_id" to table: "enrollments"
CREATE INDEX `enrollment_program_id` ON `enrollments` (`program_id`);
-- Create "enrollment_steps" table
CREATE TABLE `enrollment_steps` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `cycle` integer NOT NULL, `status` text NOT NULL DEFAULT ('SCHEDULED'), `scheduled_at` datetime NOT NULL, `executed_at` datetime NULL, `error` text NULL, `skip_reason` text NULL, `reply_content` text NULL, `last_reply_sid` text NULL, `outbox_id` text NULL, `enrollment_id` text NOT NULL, `action_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `enrollment_steps_enrollments_steps` FOREIGN KEY (`enrollment_id`) REFERENCES `enrollments` (`id`) ON DELETE NO ACTION, CONSTRAINT `enrollment_steps_program_actions_action` FOREIGN KEY (`action_id`) REFERENCES `program_actions` (`id`) ON DELETE NO ACTION);
-- Create index "enrollmentstep_enrollment_id_cycle_action_id" to table: "enrollment_steps"
CREATE UNIQUE INDEX `enrollmentstep_enrollment_id_cycle_action_id` ON `enrollment_steps` (`enrollment_id`, `cycle`, `action_id`);
-- Create "inbound_sm_ss" table
CREATE TABLE `inbound_sm_ss` (`id` text NOT NULL, `sid` text NOT NULL, `at` datetime NOT NULL, PRIMARY KEY (`id`));
-- Create index "inbound_sm_ss_sid_key" to table: "inbound_sm_ss"
CREATE UNIQUE INDEX `inbound_sm_ss_sid_key` ON `inbound_sm_ss` (`sid`);
-- Create "labels" table
CREATE TABLE `labels` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `owner_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `labels_users_owner` FOREIGN KEY (`owner_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION);
-- Create index "label_owner_id_name" to table: "labels"
CREATE UNIQUE INDEX `label_owner_id_name` ON `labels` (`owner_id`, `name`);
-- Create "membership_spans" table
CREATE TABLE `membership_spans` (`id` text NOT NULL, `joined_seq` integer NOT NULL, `left_seq` integer NULL, `created_at` datetime NOT NULL, `channel_id` text NOT NULL, `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `membership_spans_channels_channel` FOREIGN KEY (`channel_id`) REFERENCES `channels` (`id`) ON DELETE NO ACTION, CONSTRAINT `membership_spans_users_user` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION);
-- Create index "membershipspan_channel_id_user_id" to table: "membership_spans"
CREATE INDEX `membershipspan_channel_id_user_id` ON `membership_spans` (`channel_id`, `user_id`);
-- Create index "membershipspan_user_id_channel_id" to table: "membership_spans"
CREATE INDEX `membershipspan_user_id_channel_id` ON `membership_spans` (`user_id`, `channel_id`);
-- Create "messages" table
CREATE TABLE `messages` (`id` text NOT NULL, `seq` integer NOT NULL, `kind` text NOT NULL DEFAULT ('USER'), `body` text NOT NULL, `sms` bool NOT NULL DEFAULT (false), `client_message_id` text NULL, `created_at` datetime NOT NULL, `txid` integer NOT NULL DEFAULT (0), `channel_id` text NOT NULL, `sender_id` text NULL, `sender_patient_id` text NULL, `reply_to_id` text NULL, PRIMARY KEY (`id`), CONSTRAINT `messages_channels_messages` FOREIGN KEY (`channel_id`) REFERENCES `channels` (`id`) ON DELETE NO ACTION, CONSTRAINT `messages_users_sender` FOREIGN KEY (`sender_id`) REFERENCES `users` (`id`) ON DELETE SET NULL, CONSTRAINT `messages_patients_sender_patient` FOREIGN KEY (`sender_patient_id`) REFERENCES `patients` (`id`) ON DELETE SET NULL, CONSTRAINT `messages_messages_replies` FOREIGN KEY (`reply_to_id`) REFERENCES `messages` (`id`) ON DELETE SET NULL);
-- Create index "message_channel_id_seq" to table: "messages"
CREATE UNIQUE INDEX `message_channel_id_seq` ON `messages` (`channel_id`, `seq`);
-- Create index "message_sender_id_client_message_id" to table: "messages"
CREATE UNIQUE INDEX `message_sender_id_client_message_id` ON `messages` (`sender_id`, `client_message_id`);
-- Create index "message_created_at" to table: "messages"
CREATE INDEX `message_created_at` ON `messages` (`created_at`);
-- Create index "message_sender_id_created_at" to table: "messages"
CREATE INDEX `message_sender_id_created_at` ON `messages` (`sender_id`, `created_at`);
-- Create index "message_txid_channel_id_seq" to table: "messages"
CREATE INDEX `message_txid_channel_id_seq` ON `messages` (`txid`, `channel_id`, `seq`);
-- Create "notifications" table
CREATE TABLE `notifications` (`id` text NOT NULL, `kind` text NOT NULL, `title` text NOT NULL, `body` text NULL, `due_at` datetime NULL, `deliver_at` datetime NOT NULL, `acknowledged_at` datetime NULL, `announced_at` datetime NULL, `dedupe_key` text NULL, `created_at` datetime NOT NULL, `recipient_id` text NOT NULL, `patient_id` text NULL, `booking_id` text NULL, `from_id` text NULL, PRIMARY KEY (`id`), CONSTRAINT `notifications_users_recipient` FOREIGN KEY (`recipient_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION, CONSTRAINT `notifications_patients_patient` FOREIGN KEY (`patient_id`) REFERENCES `patients` (`id`) ON DELETE SET NULL, CONSTRAINT `notifications_bookings_booking` FOREIGN KEY (`booking_id`) REFERENCES `bookings` (`id`) ON DELETE SET NULL, CONSTRAINT `notifications_users_from` FOREIGN KEY (`from_id`) REFERENCES `users` (`id`) ON DELETE SET NULL);
-- Create index "notification_recipient_id_acknowledged_at_deliver_at" to table: "notifications"
CREATE INDEX `notification_recipient_id_acknowledged_at_deliver_at` ON `notifications` (`recipient_id`, `acknowledged_at`, `deliver_at`);
-- Create index "notification_recipient_id_dedupe_key" to table: "notifications"
CREATE UNIQUE INDEX `notification_recipient_id_dedupe_key` ON `notifications` (`recipient_id`, `dedupe_key`);
-- Create index "notification_created_at" to table: "notifications"
CREATE INDEX `notification_created_at` ON `notifications` (`created_at`);
-- Create index "notification_from_id_created_at" to table: "notifications"
CREATE INDEX `notification_from_id_created_at` ON `notifications` (`from_id`, `created_at`);
-- Create index "notification_patient_id_created_at" to table: "notifications"
CREATE INDEX `notification_patient_id_created_at` ON `notifications` (`patient_id`, `created_at`);
-- Create index "notification_deliver_at" to table: "notifications"
CREATE INDEX `notification_deliver_at` ON `notifications` (`deliver_at`) WHERE announced_at IS NULL;
-- Create "outbox_messages" table
CREATE TABLE `outbox_messages` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `channel` text NOT NULL, `recipient` text NOT NULL, `subject` text NULL, `body` text NOT NULL, `route` text NULL, `status` text NOT NULL DEFAULT ('PENDING'), `attempts` integer NOT NULL DEFAULT (0), `next_attempt_at` datetime NOT NULL, `last_error` text NULL, `idempotency_key` text NOT NULL, `provider_ref` text NULL, `cause_message_id` text NULL, `sent_at` datetime NULL, `patient_facing` bool NOT NULL DEFAULT (false), `held_until` datetime NULL, `unsubscribe_url` text NULL, `provider_status` text NULL, `delivered_at` datetime NULL, PRIMARY KEY (`id`));
-- Create index "outbox_messages_idempotency_key_key" to table: "outbox_messages"
CREATE UNIQUE INDEX `outbox_messages_idempotency_key_key` ON `outbox_messages` (`idempotency_key`);
-- Create index "outboxmessage_status_next_attempt_at" to table: "outbox_messages"
CREATE INDEX `outboxmessage_status_next_attempt_at` ON `outbox_messages` (`status`, `next_attempt_at`);
-- Create index "outboxmessage_provider_ref" to table: "outbox_messages"
CREATE INDEX `outboxmessage_provider_ref` ON `outbox_messages` (`provider_ref`);
-- Create "patients" table
CREATE TABLE `patients` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `external_id` text NULL, `patient_number` text NOT NULL, `first_name` text NOT NULL, `last_name` text NOT NULL, `birth_date` text NULL, `mobile` text NULL, `email` text NULL, `address_line1` text NULL, `address_line2` text NULL, `city` text NULL, `region` text NULL, `postcode` text NULL, `gp_name` text NULL, `gp_practice` text NULL, `gp_address` text NULL, `gp_email` text NULL, `portal_password_hash` text NULL, `source_version` integer NOT NULL DEFAULT (0), PRIMARY KEY (`id`));
-- Create index "patients_external_id_key" to table: "patients"
CREATE UNIQUE INDEX `patients_external_id_key` ON `patients` (`external_id`);
-- Create index "patients_patient_number_key" to table: "patients"
CREATE UNIQUE INDEX `patients_patient_number_key` ON `patients` (`patient_number`);
-- Create index "patient_last_name_first_name" to table: "patients"
CREATE INDEX `patient_last_name_first_name` ON `patients` (`last_name`, `first_name`);
-- Create "patient_sessions" table
CREATE TABLE `patient_sessions` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `refresh_hash` text NOT NULL, `refresh_generation` integer NOT NULL DEFAULT (0), `expires_at` datetime NOT NULL, `last_used_at` datetime NOT NULL, `revoked_at` datetime NULL, `revoked_reason` text NULL, `user_agent` text NULL, `ip_address` text NULL, `patient_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `patient_sessions_patients_patient` FOREIGN KEY (`patient_id`) REFERENCES `patients` (`id`) ON DELETE NO ACTION);
-- Create index "patientsession_patient_id_revoked_at" to table: "patient_sessions"
CREATE INDEX `patientsession_patient_id_revoked_at` ON `patient_sessions` (`patient_id`, `revoked_at`);
-- Create "practice_profiles" table
CREATE TABLE `practice_profiles` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NULL, `phone` text NULL, `address` text NULL, `time_zone` text NULL, PRIMARY KEY (`id`));
-- Create "programs" table
CREATE TABLE `programs` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `type` text NOT NULL, `cycles` integer NOT NULL DEFAULT (1), `frequency_every` integer NULL, `frequency_unit` text NULL, `completion` text NOT NULL DEFAULT ('IGNORE'), `enabled` bool NOT NULL DEFAULT (false), PRIMARY KEY (`id`));
-- Create "program_actions" table
CREATE TABLE `program_actions` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `position` integer NOT NULL, `type` text NOT NULL, `save_reply_content` bool NOT NULL DEFAULT (false), `letter_option` text NULL, `offset` integer NOT NULL DEFAULT (0), `unit` text NOT NULL DEFAULT ('DAYS'), `relation` text NOT NULL DEFAULT ('ON'), `pause_on_error` bool NOT NULL DEFAULT (true), `archived_at` datetime NULL, `program_id` text NOT NULL, `template_id` text NULL, PRIMARY KEY (`id`), CONSTRAINT `program_actions_programs_actions` FOREIGN KEY (`program_id`) REFERENCES `programs` (`id`) ON DELETE NO ACTION, CONSTRAINT `program_actions_templates_template` FOREIGN KEY (`template_id`) REFERENCES `templates` (`id`) ON DELETE SET NULL);
-- Create index "programaction_program_id_position" to table: "program_actions"
CREATE INDEX `programaction_program_id_position` ON `program_actions` (`program_id`, `position`);
-- Create "referrals" table
CREATE TABLE `referrals` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `external_id` text NOT NULL, `referral_date` datetime NOT NULL, `referrer` text NULL, `reason` text NULL, `source_version` integer NOT NULL DEFAULT (0), `patient_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `referrals_patients_patient` FOREIGN KEY (`patient_id`) REFERENCES `patients` (`id`) ON DELETE NO ACTION);
-- Create index "referrals_external_id_key" to table: "referrals"
CREATE UNIQUE INDEX `referrals_external_id_key` ON `referrals` (`external_id`);
-- Create "security_groups" table
CREATE TABLE `security_groups` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `name` text NOT NULL, `permissions` json NULL, PRIMARY KEY (`id`));
-- Create index "security_groups_name_key" to table: "security_groups"
CREATE UNIQUE INDEX `security_groups_name_key` ON `security_groups` (`name`);
-- Create "sessions" table
CREATE TABLE `sessions` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `refresh_hash` text NOT NULL, `refresh_generation` integer NOT NULL DEFAULT (0), `expires_at` datetime NOT NULL, `last_used_at` datetime NOT NULL, `revoked_at` datetime NULL, `revoked_reason` text NULL, `user_agent` text NULL, `ip_address` text NULL, `user_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `sessions_users_sessions` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION);
-- Create index "session_user_id_revoked_at" to table: "sessions"
CREATE INDEX `session_user_id_revoked_at` ON `sessions` (`user_id`, `revoked_at`);
-- Create "settings" table
CREATE TABLE `settings` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `value` text NOT NULL, PRIMARY KEY (`id`));
-- Create "sign_in_throttles" table
CREATE TABLE `sign_in_throttles` (`id` text NOT NULL, `failures` integer NOT NULL DEFAULT (0), `window_start` datetime NOT NULL, PRIMARY KEY (`id`));
-- Create "templates" table
CREATE TABLE `templates` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `kind` text NOT NULL, `name` text NOT NULL, `subject` text NULL, `body` text NOT NULL, PRIMARY KEY (`id`));
-- Create "users" table
CREATE TABLE `users` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `kind` text NOT NULL DEFAULT ('STAFF'), `name` text NOT NULL, `email` text NOT NULL, `mobile` text NULL, `job_title` text NULL, `external_id` text NULL, `active` bool NOT NULL DEFAULT (true), `password_hash` text NULL, `permissions` json NULL, `failed_logins` integer NOT NULL DEFAULT (0), `locked_until` datetime NULL, `open_on_new_message` bool NOT NULL DEFAULT (true), `keep_hidden` bool NOT NULL DEFAULT (false), `never_receive_direct` bool NOT NULL DEFAULT (false), `open_on_startup` bool NOT NULL DEFAULT (false), `patient_arrived_alerts` bool NOT NULL DEFAULT (false), `staff_auto_reply` text NULL, `staff_auto_reply_until` datetime NULL, `patient_auto_reply` text NULL, `patient_auto_reply_until` datetime NULL, PRIMARY KEY (`id`));
-- Create index "users_email_key" to table: "users"
CREATE UNIQUE INDEX `users_email_key` ON `users` (`email`);
-- Create index "users_external_id_key" to table: "users"
CREATE UNIQUE INDEX `users_external_id_key` ON `users` (`external_id`);
-- Create index "user_name" to table: "users"
CREATE INDEX `user_name` ON `users` (`name`);
-- Create "user_tokens" table
CREATE TABLE `user_tokens` (`id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `user_id` text NOT NULL, `purpose` text NOT NULL, `token_hash` text NOT NULL, `expires_at` datetime NOT NULL, `used_at` datetime NULL, `created_by` text NULL, PRIMARY KEY (`id`));
-- Create index "user_tokens_token_hash_key" to table: "user_tokens"
CREATE UNIQUE INDEX `user_tokens_token_hash_key` ON `user_tokens` (`token_hash`);
-- Create index "usertoken_user_id_purpose" to table: "user_tokens"
CREATE INDEX `usertoken_user_id_purpose` ON `user_tokens` (`user_id`, `purpose`);
-- Create "channel_custom_users" table
CREATE TABLE `channel_custom_users` (`channel_id` text NOT NULL, `user_id` text NOT NULL, PRIMARY KEY (`channel_id`, `user_id`), CONSTRAINT `channel_custom_users_channel_id` FOREIGN KEY (`channel_id`) REFERENCES `channels` (`id`) ON DELETE CASCADE, CONSTRAINT `channel_custom_users_user_id` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Create "channel_custom_groups" table
CREATE TABLE `channel_custom_groups` (`channel_id` text NOT NULL, `security_group_id` text NOT NULL, PRIMARY KEY (`channel_id`, `security_group_id`), CONSTRAINT `channel_custom_groups_channel_id` FOREIGN KEY (`channel_id`) REFERENCES `channels` (`id`) ON DELETE CASCADE, CONSTRAINT `channel_custom_groups_security_group_id` FOREIGN KEY (`security_group_id`) REFERENCES `security_groups` (`id`) ON DELETE CASCADE);
-- Create "channel_custom_channels" table
CREATE TABLE `channel_custom_channels` (`channel_id` text NOT NULL, `included_in_id` text NOT NULL, PRIMARY KEY (`channel_id`, `included_in_id`), CONSTRAINT `channel_custom_channels_channel_id` FOREIGN KEY (`channel_id`) REFERENCES `channels` (`id`) ON DELETE CASCADE, CONSTRAINT `channel_custom_channels_included_in_id` FOREIGN KEY (`included_in_id`) REFERENCES `channels` (`id`) ON DELETE CASCADE);
-- Create "label_messages" table
CREATE TABLE `label_messages` (`label_id` text NOT NULL, `message_id` text NOT NULL, PRIMARY KEY (`label_id`, `message_id`), CONSTRAINT `label_messages_label_id` FOREIGN KEY (`label_id`) REFERENCES `labels` (`id`) ON DELETE CASCADE, CONSTRAINT `label_messages_message_id` FOREIGN KEY (`message_id`) REFERENCES `messages` (`id`) ON DELETE CASCADE);
-- Create "message_patients" table
CREATE TABLE `message_patients` (`message_id` text NOT NULL, `patient_id` text NOT NULL, PRIMARY KEY (`message_id`, `patient_id`), CONSTRAINT `message_patients_message_id` FOREIGN KEY (`message_id`) REFERENCES `messages` (`id`) ON DELETE CASCADE, CONSTRAINT `message_patients_patient_id` FOREIGN KEY (`patient_id`) REFERENCES `patients` (`id`) ON DELETE CASCADE);
-- Create "program_completing_booking_types" table
CREATE TABLE `program_completing_booking_types` (`program_id` text NOT NULL, `booking_type_id` text NOT NULL, PRIMARY KEY (`program_id`, `booking_type_id`), CONSTRAINT `program_completing_booking_types_program_id` FOREIGN KEY (`program_id`) REFERENCES `programs` (`id`) ON DELETE CASCADE, CONSTRAINT `program_completing_booking_types_booking_type_id` FOREIGN KEY (`booking_type_id`) REFERENCES `booking_types` (`id`) ON DELETE CASCADE);
-- Create "user_security_groups" table
CREATE TABLE `user_security_groups` (`user_id` text NOT NULL, `security_group_id` text NOT NULL, PRIMARY KEY (`user_id`, `security_group_id`), CONSTRAINT `user_security_groups_user_id` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE, CONSTRAINT `user_security_groups_security_group_id` FOREIGN KEY (`security_group_id`) REFERENCES `security_groups` (`id`) ON DELETE CASCADE);
