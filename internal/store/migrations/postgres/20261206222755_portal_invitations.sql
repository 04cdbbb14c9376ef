-- Modify "user_tokens" table
ALTER TABLE "user_tokens" ALTER COLUMN "user_id" DROP NOT NULL, ADD COLUMN "patient_id" character varying NULL;
-- Create index "usertoken_patient_id_purpose" to table: "user_tokens"
CREATE INDEX "usertoken_patient_id_purpose" ON "user_tokens" ("patient_id", "purpose");
