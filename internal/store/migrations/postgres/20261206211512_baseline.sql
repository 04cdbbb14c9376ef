-- Create "outbox_messages" table
CREATE TABLE "outbox_messages" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "channel" character varying NOT NULL, "recipient" character varying NOT NULL, "subject" character varying NULL, "body" text NOT NULL, "route" character varying NULL, "status" character varying NOT NULL DEFAULT 'PENDING', "attempts" bigint NOT NULL DEFAULT 0, "next_attempt_at" timestamptz NOT NULL, "last_error" character varying NULL, "idempotency_key" character varying NOT NULL, "provider_ref" character varying NULL, "cause_message_id" character varying NULL, "sent_at" timestamptz NULL, "patient_facing" boolean NOT NULL DEFAULT false, "held_until" timestamptz NULL, "unsubscribe_url" character varying NULL, "provider_status" character varying NULL, "delivered_at" timestamptz NULL, PRIMARY KEY ("id"));
-- Create index "outbox_messages_idempotency_key_key" to table: "outbox_messages"
CREATE UNIQUE INDEX "outbox_messages_idempotency_key_key" ON "outbox_messages" ("idempotency_key");
-- Create index "outboxmessage_provider_ref" to table: "outbox_messages"
CREATE INDEX "outboxmessage_provider_ref" ON "outbox_messages" ("provider_ref");
-- Create index "outboxmessage_status_next_attempt_at" to table: "outbox_messages"
CREATE INDEX "outboxmessage_status_next_attempt_at" ON "outbox_messages" ("status", "next_attempt_at");
-- Create "sign_in_throttles" table
CREATE TABLE "sign_in_throttles" ("id" character varying NOT NULL, "failures" bigint NOT NULL DEFAULT 0, "window_start" timestamptz NOT NULL, PRIMARY KEY ("id"));
-- Create "auto_reply_sents" table
CREATE TABLE "auto_reply_sents" ("id" character varying NOT NULL, "channel_id" character varying NOT NULL, "user_id" character varying NOT NULL, "day" character varying NOT NULL, "created_at" timestamptz NOT NULL, PRIMARY KEY ("id"));
-- Create index "autoreplysent_channel_id_user_id_day" to table: "auto_reply_sents"
CREATE UNIQUE INDEX "autoreplysent_channel_id_user_id_day" ON "auto_reply_sents" ("channel_id", "user_id", "day");
-- Create "user_tokens" table
CREATE TABLE "user_tokens" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "user_id" character varying NOT NULL, "purpose" character varying NOT NULL, "token_hash" character varying NOT NULL, "expires_at" timestamptz NOT NULL, "used_at" timestamptz NULL, "created_by" character varying NULL, PRIMARY KEY ("id"));
-- Create index "user_tokens_token_hash_key" to table: "user_tokens"
CREATE UNIQUE INDEX "user_tokens_token_hash_key" ON "user_tokens" ("token_hash");
-- Create index "usertoken_user_id_purpose" to table: "user_tokens"
CREATE INDEX "usertoken_user_id_purpose" ON "user_tokens" ("user_id", "purpose");
-- Create "settings" table
CREATE TABLE "settings" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "value" text NOT NULL, PRIMARY KEY ("id"));
-- Create "practice_profiles" table
CREATE TABLE "practice_profiles" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NULL, "phone" character varying NULL, "address" character varying NULL, "time_zone" character varying NULL, PRIMARY KEY ("id"));
-- Create "patients" table
CREATE TABLE "patients" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "external_id" character varying NULL, "patient_number" character varying NOT NULL, "first_name" character varying NOT NULL, "last_name" character varying NOT NULL, "birth_date" character varying NULL, "mobile" character varying NULL, "email" character varying NULL, "address_line1" character varying NULL, "address_line2" character varying NULL, "city" character varying NULL, "region" character varying NULL, "postcode" character varying NULL, "gp_name" character varying NULL, "gp_practice" character varying NULL, "gp_address" character varying NULL, "gp_email" character varying NULL, "portal_password_hash" character varying NULL, "source_version" bigint NOT NULL DEFAULT 0, PRIMARY KEY ("id"));
-- Create index "patient_last_name_first_name" to table: "patients"
CREATE INDEX "patient_last_name_first_name" ON "patients" ("last_name", "first_name");
-- Create index "patients_external_id_key" to table: "patients"
CREATE UNIQUE INDEX "patients_external_id_key" ON "patients" ("external_id");
-- Create index "patients_patient_number_key" to table: "patients"
CREATE UNIQUE INDEX "patients_patient_number_key" ON "patients" ("patient_number");
-- Create "inbound_sm_ss" table
CREATE TABLE "inbound_sm_ss" ("id" character varying NOT NULL, "sid" character varying NOT NULL, "at" timestamptz NOT NULL, PRIMARY KEY ("id"));
-- Create index "inbound_sm_ss_sid_key" to table: "inbound_sm_ss"
CREATE UNIQUE INDEX "inbound_sm_ss_sid_key" ON "inbound_sm_ss" ("sid");
-- Create "consents" table
CREATE TABLE "consents" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "subject" character varying NOT NULL, "channel" character varying NOT NULL, "state" character varying NOT NULL, PRIMARY KEY ("id"));
-- Create index "consent_subject_channel" to table: "consents"
CREATE UNIQUE INDEX "consent_subject_channel" ON "consents" ("subject", "channel");
-- Create "consent_changes" table
CREATE TABLE "consent_changes" ("id" character varying NOT NULL, "subject" character varying NOT NULL, "patient_id" character varying NULL, "channel" character varying NOT NULL, "state" character varying NOT NULL, "source" character varying NOT NULL, "actor_id" character varying NULL, "detail" character varying NULL, "at" timestamptz NOT NULL, PRIMARY KEY ("id"));
-- Create index "consentchange_patient_id_at" to table: "consent_changes"
CREATE INDEX "consentchange_patient_id_at" ON "consent_changes" ("patient_id", "at");
-- Create index "consentchange_subject_at" to table: "consent_changes"
CREATE INDEX "consentchange_subject_at" ON "consent_changes" ("subject", "at");
-- Create "directory_log_entries" table
CREATE TABLE "directory_log_entries" ("id" character varying NOT NULL, "at" timestamptz NOT NULL, "action" character varying NOT NULL, "actor_id" character varying NULL, "actor_name" character varying NOT NULL, "user_id" character varying NULL, "user_name" character varying NULL, "group_id" character varying NULL, "group_name" character varying NULL, "detail" text NULL, PRIMARY KEY ("id"));
-- Create index "directorylogentry_at" to table: "directory_log_entries"
CREATE INDEX "directorylogentry_at" ON "directory_log_entries" ("at");
-- Create index "directorylogentry_user_id_at" to table: "directory_log_entries"
CREATE INDEX "directorylogentry_user_id_at" ON "directory_log_entries" ("user_id", "at");
-- Create "security_groups" table
CREATE TABLE "security_groups" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "permissions" jsonb NULL, PRIMARY KEY ("id"));
-- Create index "security_groups_name_key" to table: "security_groups"
CREATE UNIQUE INDEX "security_groups_name_key" ON "security_groups" ("name");
-- Create "channels" table
CREATE TABLE "channels" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "kind" character varying NOT NULL, "name" character varying NOT NULL DEFAULT '', "topic" character varying NULL, "unique_key" character varying NULL, "last_seq" bigint NOT NULL DEFAULT 0, "last_txid" bigint NOT NULL DEFAULT 0, "message_count" bigint NOT NULL DEFAULT 0, "patient_read_seq" bigint NOT NULL DEFAULT 0, "last_activity_at" timestamptz NOT NULL, "patient_id" character varying NULL, "security_group_id" character varying NULL, PRIMARY KEY ("id"), CONSTRAINT "channels_patients_patient" FOREIGN KEY ("patient_id") REFERENCES "patients" ("id") ON UPDATE NO ACTION ON DELETE SET NULL, CONSTRAINT "channels_security_groups_security_group" FOREIGN KEY ("security_group_id") REFERENCES "security_groups" ("id") ON UPDATE NO ACTION ON DELETE SET NULL);
-- Create index "channel_kind_last_activity_at" to table: "channels"
CREATE INDEX "channel_kind_last_activity_at" ON "channels" ("kind", "last_activity_at");
-- Create index "channel_patient_id" to table: "channels"
CREATE INDEX "channel_patient_id" ON "channels" ("patient_id");
-- Create index "channels_unique_key_key" to table: "channels"
CREATE UNIQUE INDEX "channels_unique_key_key" ON "channels" ("unique_key");
-- Create "users" table
CREATE TABLE "users" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "kind" character varying NOT NULL DEFAULT 'STAFF', "name" character varying NOT NULL, "email" character varying NOT NULL, "mobile" character varying NULL, "job_title" character varying NULL, "external_id" character varying NULL, "active" boolean NOT NULL DEFAULT true, "password_hash" character varying NULL, "permissions" jsonb NULL, "failed_logins" bigint NOT NULL DEFAULT 0, "locked_until" timestamptz NULL, "open_on_new_message" boolean NOT NULL DEFAULT true, "keep_hidden" boolean NOT NULL DEFAULT false, "never_receive_direct" boolean NOT NULL DEFAULT false, "open_on_startup" boolean NOT NULL DEFAULT false, "patient_arrived_alerts" boolean NOT NULL DEFAULT false, "staff_auto_reply" character varying NULL, "staff_auto_reply_until" timestamptz NULL, "patient_auto_reply" character varying NULL, "patient_auto_reply_until" timestamptz NULL, PRIMARY KEY ("id"));
-- Create index "user_name" to table: "users"
CREATE INDEX "user_name" ON "users" ("name");
-- Create index "users_email_key" to table: "users"
CREATE UNIQUE INDEX "users_email_key" ON "users" ("email");
-- Create index "users_external_id_key" to table: "users"
CREATE UNIQUE INDEX "users_external_id_key" ON "users" ("external_id");
-- Create "access_log_entries" table
CREATE TABLE "access_log_entries" ("id" character varying NOT NULL, "action" character varying NOT NULL, "at" timestamptz NOT NULL, "actor_id" character varying NOT NULL, "patient_id" character varying NULL, "channel_id" character varying NULL, "subject_user_id" character varying NULL, PRIMARY KEY ("id"), CONSTRAINT "access_log_entries_channels_channel" FOREIGN KEY ("channel_id") REFERENCES "channels" ("id") ON UPDATE NO ACTION ON DELETE SET NULL, CONSTRAINT "access_log_entries_patients_patient" FOREIGN KEY ("patient_id") REFERENCES "patients" ("id") ON UPDATE NO ACTION ON DELETE SET NULL, CONSTRAINT "access_log_entries_users_actor" FOREIGN KEY ("actor_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "access_log_entries_users_subject_user" FOREIGN KEY ("subject_user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE SET NULL);
-- Create index "accesslogentry_actor_id_at" to table: "access_log_entries"
CREATE INDEX "accesslogentry_actor_id_at" ON "access_log_entries" ("actor_id", "at");
-- Create index "accesslogentry_at" to table: "access_log_entries"
CREATE INDEX "accesslogentry_at" ON "access_log_entries" ("at");
-- Create index "accesslogentry_patient_id_at" to table: "access_log_entries"
CREATE INDEX "accesslogentry_patient_id_at" ON "access_log_entries" ("patient_id", "at");
-- Create "api_keys" table
CREATE TABLE "api_keys" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "key_hash" character varying NOT NULL, "key_prefix" character varying NOT NULL, "last_used_at" timestamptz NULL, "revoked_at" timestamptz NULL, "user_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "api_keys_users_api_keys" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- Create index "api_keys_key_hash_key" to table: "api_keys"
CREATE UNIQUE INDEX "api_keys_key_hash_key" ON "api_keys" ("key_hash");
-- Create "booking_types" table
CREATE TABLE "booking_types" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "external_id" character varying NULL, "name" character varying NOT NULL, "duration_minutes" bigint NOT NULL DEFAULT 15, "source_version" bigint NOT NULL DEFAULT 0, PRIMARY KEY ("id"));
-- Create index "booking_types_external_id_key" to table: "booking_types"
CREATE UNIQUE INDEX "booking_types_external_id_key" ON "booking_types" ("external_id");
-- Create "bookings" table
CREATE TABLE "bookings" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "external_id" character varying NULL, "starts_at" timestamptz NOT NULL, "status" character varying NOT NULL DEFAULT 'BOOKED', "source_version" bigint NOT NULL DEFAULT 0, "doctor_id" character varying NOT NULL, "booking_type_id" character varying NULL, "patient_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "bookings_booking_types_booking_type" FOREIGN KEY ("booking_type_id") REFERENCES "booking_types" ("id") ON UPDATE NO ACTION ON DELETE SET NULL, CONSTRAINT "bookings_patients_bookings" FOREIGN KEY ("patient_id") REFERENCES "patients" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "bookings_users_doctor" FOREIGN KEY ("doctor_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- Create index "booking_doctor_id_starts_at" to table: "bookings"
CREATE INDEX "booking_doctor_id_starts_at" ON "bookings" ("doctor_id", "starts_at");
-- Create index "booking_patient_id_starts_at" to table: "bookings"
CREATE INDEX "booking_patient_id_starts_at" ON "bookings" ("patient_id", "starts_at");
-- Create index "bookings_external_id_key" to table: "bookings"
CREATE UNIQUE INDEX "bookings_external_id_key" ON "bookings" ("external_id");
-- Create "booking_status_changes" table
CREATE TABLE "booking_status_changes" ("id" character varying NOT NULL, "from_status" character varying NULL, "to_status" character varying NOT NULL, "changed_at" timestamptz NOT NULL, "booking_id" character varying NOT NULL, "changed_by_id" character varying NULL, PRIMARY KEY ("id"), CONSTRAINT "booking_status_changes_bookings_status_changes" FOREIGN KEY ("booking_id") REFERENCES "bookings" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "booking_status_changes_users_changed_by" FOREIGN KEY ("changed_by_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE SET NULL);
-- Create "channel_custom_channels" table
CREATE TABLE "channel_custom_channels" ("channel_id" character varying NOT NULL, "included_in_id" character varying NOT NULL, PRIMARY KEY ("channel_id", "included_in_id"), CONSTRAINT "channel_custom_channels_channel_id" FOREIGN KEY ("channel_id") REFERENCES "channels" ("id") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "channel_custom_channels_included_in_id" FOREIGN KEY ("included_in_id") REFERENCES "channels" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create "channel_custom_groups" table
CREATE TABLE "channel_custom_groups" ("channel_id" character varying NOT NULL, "security_group_id" character varying NOT NULL, PRIMARY KEY ("channel_id", "security_group_id"), CONSTRAINT "channel_custom_groups_channel_id" FOREIGN KEY ("channel_id") REFERENCES "channels" ("id") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "channel_custom_groups_security_group_id" FOREIGN KEY ("security_group_id") REFERENCES "security_groups" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create "channel_custom_users" table
CREATE TABLE "channel_custom_users" ("channel_id" character varying NOT NULL, "user_id" character varying NOT NULL, PRIMARY KEY ("channel_id", "user_id"), CONSTRAINT "channel_custom_users_channel_id" FOREIGN KEY ("channel_id") REFERENCES "channels" ("id") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "channel_custom_users_user_id" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create "channel_members" table
CREATE TABLE "channel_members" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "last_read_seq" bigint NOT NULL DEFAULT 0, "channel_id" character varying NOT NULL, "user_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "channel_members_channels_channel" FOREIGN KEY ("channel_id") REFERENCES "channels" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "channel_members_users_user" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- Create index "channelmember_channel_id_user_id" to table: "channel_members"
CREATE UNIQUE INDEX "channelmember_channel_id_user_id" ON "channel_members" ("channel_id", "user_id");
-- Create index "channelmember_user_id" to table: "channel_members"
CREATE INDEX "channelmember_user_id" ON "channel_members" ("user_id");
-- Create "programs" table
CREATE TABLE "programs" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "type" character varying NOT NULL, "cycles" bigint NOT NULL DEFAULT 1, "frequency_every" bigint NULL, "frequency_unit" character varying NULL, "completion" character varying NOT NULL DEFAULT 'IGNORE', "enabled" boolean NOT NULL DEFAULT false, PRIMARY KEY ("id"));
-- Create "enrollments" table
CREATE TABLE "enrollments" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "status" character varying NOT NULL DEFAULT 'ACTIVE', "flagged" boolean NOT NULL DEFAULT false, "cycle" bigint NOT NULL DEFAULT 1, "reference_date" timestamptz NOT NULL, "origin_date" timestamptz NULL, "next_action_id" character varying NULL, "answered_cycle" bigint NOT NULL DEFAULT 0, "next_due_at" timestamptz NULL, "program_id" character varying NOT NULL, "patient_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "enrollments_patients_patient" FOREIGN KEY ("patient_id") REFERENCES "patients" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "enrollments_programs_program" FOREIGN KEY ("program_id") REFERENCES "programs" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- Create index "enrollment_patient_id" to table: "enrollments"
CREATE INDEX "enrollment_patient_id" ON "enrollments" ("patient_id");
-- Create index "enrollment_program_id" to table: "enrollments"
CREATE INDEX "enrollment_program_id" ON "enrollments" ("program_id");
-- Create index "enrollment_status_next_due_at" to table: "enrollments"
CREATE INDEX "enrollment_status_next_due_at" ON "enrollments" ("status", "next_due_at");
-- Create "templates" table
CREATE TABLE "templates" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "kind" character varying NOT NULL, "name" character varying NOT NULL, "subject" character varying NULL, "body" text NOT NULL, PRIMARY KEY ("id"));
-- Create "program_actions" table
CREATE TABLE "program_actions" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "position" bigint NOT NULL, "type" character varying NOT NULL, "save_reply_content" boolean NOT NULL DEFAULT false, "letter_option" character varying NULL, "offset" bigint NOT NULL DEFAULT 0, "unit" character varying NOT NULL DEFAULT 'DAYS', "relation" character varying NOT NULL DEFAULT 'ON', "pause_on_error" boolean NOT NULL DEFAULT true, "archived_at" timestamptz NULL, "program_id" character varying NOT NULL, "template_id" character varying NULL, PRIMARY KEY ("id"), CONSTRAINT "program_actions_programs_actions" FOREIGN KEY ("program_id") REFERENCES "programs" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "program_actions_templates_template" FOREIGN KEY ("template_id") REFERENCES "templates" ("id") ON UPDATE NO ACTION ON DELETE SET NULL);
-- Create index "programaction_program_id_position" to table: "program_actions"
CREATE INDEX "programaction_program_id_position" ON "program_actions" ("program_id", "position");
-- Create "enrollment_steps" table
CREATE TABLE "enrollment_steps" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "cycle" bigint NOT NULL, "status" character varying NOT NULL DEFAULT 'SCHEDULED', "scheduled_at" timestamptz NOT NULL, "executed_at" timestamptz NULL, "error" character varying NULL, "skip_reason" character varying NULL, "reply_content" text NULL, "last_reply_sid" character varying NULL, "outbox_id" character varying NULL, "enrollment_id" character varying NOT NULL, "action_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "enrollment_steps_enrollments_steps" FOREIGN KEY ("enrollment_id") REFERENCES "enrollments" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "enrollment_steps_program_actions_action" FOREIGN KEY ("action_id") REFERENCES "program_actions" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- Create index "enrollmentstep_enrollment_id_cycle_action_id" to table: "enrollment_steps"
CREATE UNIQUE INDEX "enrollmentstep_enrollment_id_cycle_action_id" ON "enrollment_steps" ("enrollment_id", "cycle", "action_id");
-- Create "labels" table
CREATE TABLE "labels" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "owner_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "labels_users_owner" FOREIGN KEY ("owner_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- Create index "label_owner_id_name" to table: "labels"
CREATE UNIQUE INDEX "label_owner_id_name" ON "labels" ("owner_id", "name");
-- Create "messages" table
CREATE TABLE "messages" ("id" character varying NOT NULL, "seq" bigint NOT NULL, "kind" character varying NOT NULL DEFAULT 'USER', "body" character varying NOT NULL, "sms" boolean NOT NULL DEFAULT false, "client_message_id" character varying NULL, "created_at" timestamptz NOT NULL, "txid" bigint NOT NULL DEFAULT 0, "channel_id" character varying NOT NULL, "sender_id" character varying NULL, "sender_patient_id" character varying NULL, "reply_to_id" character varying NULL, PRIMARY KEY ("id"), CONSTRAINT "messages_channels_messages" FOREIGN KEY ("channel_id") REFERENCES "channels" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "messages_messages_replies" FOREIGN KEY ("reply_to_id") REFERENCES "messages" ("id") ON UPDATE NO ACTION ON DELETE SET NULL, CONSTRAINT "messages_patients_sender_patient" FOREIGN KEY ("sender_patient_id") REFERENCES "patients" ("id") ON UPDATE NO ACTION ON DELETE SET NULL, CONSTRAINT "messages_users_sender" FOREIGN KEY ("sender_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE SET NULL);
-- Create index "message_channel_id_seq" to table: "messages"
CREATE UNIQUE INDEX "message_channel_id_seq" ON "messages" ("channel_id", "seq");
-- Create index "message_created_at" to table: "messages"
CREATE INDEX "message_created_at" ON "messages" ("created_at");
-- Create index "message_sender_id_client_message_id" to table: "messages"
CREATE UNIQUE INDEX "message_sender_id_client_message_id" ON "messages" ("sender_id", "client_message_id");
-- Create index "message_sender_id_created_at" to table: "messages"
CREATE INDEX "message_sender_id_created_at" ON "messages" ("sender_id", "created_at");
-- Create index "message_txid_channel_id_seq" to table: "messages"
CREATE INDEX "message_txid_channel_id_seq" ON "messages" ("txid", "channel_id", "seq");
-- Create "label_messages" table
CREATE TABLE "label_messages" ("label_id" character varying NOT NULL, "message_id" character varying NOT NULL, PRIMARY KEY ("label_id", "message_id"), CONSTRAINT "label_messages_label_id" FOREIGN KEY ("label_id") REFERENCES "labels" ("id") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "label_messages_message_id" FOREIGN KEY ("message_id") REFERENCES "messages" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create "membership_spans" table
CREATE TABLE "membership_spans" ("id" character varying NOT NULL, "joined_seq" bigint NOT NULL, "left_seq" bigint NULL, "created_at" timestamptz NOT NULL, "channel_id" character varying NOT NULL, "user_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "membership_spans_channels_channel" FOREIGN KEY ("channel_id") REFERENCES "channels" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "membership_spans_users_user" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- Create index "membershipspan_channel_id_user_id" to table: "membership_spans"
CREATE INDEX "membershipspan_channel_id_user_id" ON "membership_spans" ("channel_id", "user_id");
-- Create index "membershipspan_user_id_channel_id" to table: "membership_spans"
CREATE INDEX "membershipspan_user_id_channel_id" ON "membership_spans" ("user_id", "channel_id");
-- Create "message_patients" table
CREATE TABLE "message_patients" ("message_id" character varying NOT NULL, "patient_id" character varying NOT NULL, PRIMARY KEY ("message_id", "patient_id"), CONSTRAINT "message_patients_message_id" FOREIGN KEY ("message_id") REFERENCES "messages" ("id") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "message_patients_patient_id" FOREIGN KEY ("patient_id") REFERENCES "patients" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create "notifications" table
CREATE TABLE "notifications" ("id" character varying NOT NULL, "kind" character varying NOT NULL, "title" character varying NOT NULL, "body" text NULL, "due_at" timestamptz NULL, "deliver_at" timestamptz NOT NULL, "acknowledged_at" timestamptz NULL, "announced_at" timestamptz NULL, "dedupe_key" character varying NULL, "created_at" timestamptz NOT NULL, "recipient_id" character varying NOT NULL, "patient_id" character varying NULL, "booking_id" character varying NULL, "from_id" character varying NULL, PRIMARY KEY ("id"), CONSTRAINT "notifications_bookings_booking" FOREIGN KEY ("booking_id") REFERENCES "bookings" ("id") ON UPDATE NO ACTION ON DELETE SET NULL, CONSTRAINT "notifications_patients_patient" FOREIGN KEY ("patient_id") REFERENCES "patients" ("id") ON UPDATE NO ACTION ON DELETE SET NULL, CONSTRAINT "notifications_users_from" FOREIGN KEY ("from_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE SET NULL, CONSTRAINT "notifications_users_recipient" FOREIGN KEY ("recipient_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- Create index "notification_created_at" to table: "notifications"
CREATE INDEX "notification_created_at" ON "notifications" ("created_at");
-- Create index "notification_deliver_at" to table: "notifications"
CREATE INDEX "notification_deliver_at" ON "notifications" ("deliver_at") WHERE (announced_at IS NULL);
-- Create index "notification_from_id_created_at" to table: "notifications"
CREATE INDEX "notification_from_id_created_at" ON "notifications" ("from_id", "created_at");
-- Create index "notification_patient_id_created_at" to table: "notifications"
CREATE INDEX "notification_patient_id_created_at" ON "notifications" ("patient_id", "created_at");
-- Create index "notification_recipient_id_acknowledged_at_deliver_at" to table: "notifications"
CREATE INDEX "notification_recipient_id_acknowledged_at_deliver_at" ON "notifications" ("recipient_id", "acknowledged_at", "deliver_at");
-- Create index "notification_recipient_id_dedupe_key" to table: "notifications"
CREATE UNIQUE INDEX "notification_recipient_id_dedupe_key" ON "notifications" ("recipient_id", "dedupe_key");
-- Create "patient_sessions" table
CREATE TABLE "patient_sessions" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "refresh_hash" character varying NOT NULL, "refresh_generation" bigint NOT NULL DEFAULT 0, "expires_at" timestamptz NOT NULL, "last_used_at" timestamptz NOT NULL, "revoked_at" timestamptz NULL, "revoked_reason" character varying NULL, "user_agent" character varying NULL, "ip_address" character varying NULL, "patient_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "patient_sessions_patients_patient" FOREIGN KEY ("patient_id") REFERENCES "patients" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- Create index "patientsession_patient_id_revoked_at" to table: "patient_sessions"
CREATE INDEX "patientsession_patient_id_revoked_at" ON "patient_sessions" ("patient_id", "revoked_at");
-- Create "program_completing_booking_types" table
CREATE TABLE "program_completing_booking_types" ("program_id" character varying NOT NULL, "booking_type_id" character varying NOT NULL, PRIMARY KEY ("program_id", "booking_type_id"), CONSTRAINT "program_completing_booking_types_booking_type_id" FOREIGN KEY ("booking_type_id") REFERENCES "booking_types" ("id") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "program_completing_booking_types_program_id" FOREIGN KEY ("program_id") REFERENCES "programs" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- Create "referrals" table
CREATE TABLE "referrals" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "external_id" character varying NOT NULL, "referral_date" timestamptz NOT NULL, "referrer" character varying NULL, "reason" character varying NULL, "source_version" bigint NOT NULL DEFAULT 0, "patient_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "referrals_patients_patient" FOREIGN KEY ("patient_id") REFERENCES "patients" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- Create index "referrals_external_id_key" to table: "referrals"
CREATE UNIQUE INDEX "referrals_external_id_key" ON "referrals" ("external_id");
-- Create "sessions" table
CREATE TABLE "sessions" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "refresh_hash" character varying NOT NULL, "refresh_generation" bigint NOT NULL DEFAULT 0, "expires_at" timestamptz NOT NULL, "last_used_at" timestamptz NOT NULL, "revoked_at" timestamptz NULL, "revoked_reason" character varying NULL, "user_agent" character varying NULL, "ip_address" character varying NULL, "user_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "sessions_users_sessions" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- Create index "session_user_id_revoked_at" to table: "sessions"
CREATE INDEX "session_user_id_revoked_at" ON "sessions" ("user_id", "revoked_at");
-- Create "user_security_groups" table
CREATE TABLE "user_security_groups" ("user_id" character varying NOT NULL, "security_group_id" character varying NOT NULL, PRIMARY KEY ("user_id", "security_group_id"), CONSTRAINT "user_security_groups_security_group_id" FOREIGN KEY ("security_group_id") REFERENCES "security_groups" ("id") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "user_security_groups_user_id" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
