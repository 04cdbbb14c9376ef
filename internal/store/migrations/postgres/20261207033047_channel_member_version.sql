-- Modify "channels" table
ALTER TABLE "channels" ADD COLUMN "member_version" bigint NOT NULL DEFAULT 0;
