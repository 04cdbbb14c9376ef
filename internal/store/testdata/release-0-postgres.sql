--
-- PostgreSQL database dump
--


-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: pg_trgm; Type: EXTENSION; Schema: -; Owner: -
--

CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;


--
-- Name: EXTENSION pg_trgm; Type: COMMENT; Schema: -; Owner: -
--

COMMENT ON EXTENSION pg_trgm IS 'text similarity measurement and index searching based on trigrams';


--
-- Name: whisper_stream_horizon(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.whisper_stream_horizon() RETURNS bigint
    LANGUAGE sql STABLE
    AS $$
  SELECT COALESCE(
    (SELECT min(x::text::bigint) FROM pg_snapshot_xip(pg_current_snapshot()) AS x
      WHERE (x::text::bigint % 4294967296) IN (
        SELECT a.backend_xid::text::bigint FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.classid = 1464357712 AND l.objid = 1 AND l.objsubid = 2
          AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND a.backend_xid IS NOT NULL)),
    pg_snapshot_xmax(pg_current_snapshot())::text::bigint)
$$;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: access_log_entries; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.access_log_entries (
    id character varying NOT NULL,
    action character varying NOT NULL,
    at timestamp with time zone NOT NULL,
    actor_id character varying NOT NULL,
    patient_id character varying,
    channel_id character varying,
    subject_user_id character varying
);


--
-- Name: api_keys; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.api_keys (
    id character varying NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    name character varying NOT NULL,
    key_hash character varying NOT NULL,
    key_prefix character varying NOT NULL,
    last_used_at timestamp with time zone,
    revoked_at timestamp with time zone,
    user_id character varying NOT NULL
);


--
-- Name: auto_reply_sents; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.auto_reply_sents (
    id character varying NOT NULL,
    channel_id character varying NOT NULL,
    user_id character varying NOT NULL,
    day character varying NOT NULL,
    created_at timestamp with time zone NOT NULL
);


--
-- Name: booking_status_changes; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.booking_status_changes (
    id character varying NOT NULL,
    from_status character varying,
    to_status character varying NOT NULL,
    changed_at timestamp with time zone NOT NULL,
    booking_id character varying NOT NULL,
    changed_by_id character varying
);


--
-- Name: booking_types; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.booking_types (
    id character varying NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    external_id character varying,
    name character varying NOT NULL,
    duration_minutes bigint DEFAULT 15 NOT NULL,
    source_version bigint DEFAULT 0 NOT NULL
);


--
-- Name: bookings; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.bookings (
    id character varying NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    external_id character varying,
    starts_at timestamp with time zone NOT NULL,
    status character varying DEFAULT 'BOOKED'::character varying NOT NULL,
    source_version bigint DEFAULT 0 NOT NULL,
    doctor_id character varying NOT NULL,
    booking_type_id character varying,
    patient_id character varying NOT NULL
);


--
-- Name: channel_custom_channels; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.channel_custom_channels (
    channel_id character varying NOT NULL,
    included_in_id character varying NOT NULL
);


--
-- Name: channel_custom_groups; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.channel_custom_groups (
    channel_id character varying NOT NULL,
    security_group_id character varying NOT NULL
);


--
-- Name: channel_custom_users; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.channel_custom_users (
    channel_id character varying NOT NULL,
    user_id character varying NOT NULL
);


--
-- Name: channel_members; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.channel_members (
    id character varying NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    last_read_seq bigint DEFAULT 0 NOT NULL,
    channel_id character varying NOT NULL,
    user_id character varying NOT NULL
);


--
-- Name: channels; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.channels (
    id character varying NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    kind character varying NOT NULL,
    name character varying DEFAULT ''::character varying NOT NULL,
    topic character varying,
    unique_key character varying,
    last_seq bigint DEFAULT 0 NOT NULL,
    last_txid bigint DEFAULT 0 NOT NULL,
    message_count bigint DEFAULT 0 NOT NULL,
    patient_read_seq bigint DEFAULT 0 NOT NULL,
    last_activity_at timestamp with time zone NOT NULL,
    patient_id character varying,
    security_group_id character varying
);


--
-- Name: consent_changes; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.consent_changes (
    id character varying NOT NULL,
    subject character varying NOT NULL,
    patient_id character varying,
    channel character varying NOT NULL,
    state character varying NOT NULL,
    source character varying NOT NULL,
    actor_id character varying,
    detail character varying,
    at timestamp with time zone NOT NULL
);


--
-- Name: consents; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.consents (
    id character varying NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    subject character varying NOT NULL,
    channel character varying NOT NULL,
    state character varying NOT NULL
);


--
-- Name: directory_log_entries; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.directory_log_entries (
    id character varying NOT NULL,
    at timestamp with time zone NOT NULL,
    action character varying NOT NULL,
    actor_id character varying,
    actor_name character varying NOT NULL,
    user_id character varying,
    user_name character varying,
    group_id character varying,
    group_name character varying,
    detail text
);


--
-- Name: enrollment_steps; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.enrollment_steps (
    id character varying NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    cycle bigint NOT NULL,
    status character varying DEFAULT 'SCHEDULED'::character varying NOT NULL,
    scheduled_at timestamp with time zone NOT NULL,
    executed_at timestamp with time zone,
    error character varying,
    skip_reason character varying,
    reply_content text,
    last_reply_sid character varying,
    outbox_id character varying,
    enrollment_id character varying NOT NULL,
    action_id character varying NOT NULL
);


--
-- Name: enrollments; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.enrollments (
    id character varying NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    status character varying DEFAULT 'ACTIVE'::character varying NOT NULL,
    flagged boolean DEFAULT false NOT NULL,
    cycle bigint DEFAULT 1 NOT NULL,
    reference_date timestamp with time zone NOT NULL,
    origin_date timestamp with time zone,
    next_action_id character varying,
    answered_cycle bigint DEFAULT 0 NOT NULL,
    next_due_at timestamp with time zone,
    program_id character varying NOT NULL,
    patient_id character varying NOT NULL
);


--
-- Name: inbound_sm_ss; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.inbound_sm_ss (
    id character varying NOT NULL,
    sid character varying NOT NULL,
    at timestamp with time zone NOT NULL
);


--
-- Name: label_messages; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.label_messages (
    label_id character varying NOT NULL,
    message_id character varying NOT NULL
);


--
-- Name: labels; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.labels (
    id character varying NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    name character varying NOT NULL,
    owner_id character varying NOT NULL
);


--
-- Name: membership_spans; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.membership_spans (
    id character varying NOT NULL,
    joined_seq bigint NOT NULL,
    left_seq bigint,
    created_at timestamp with time zone NOT NULL,
    channel_id character varying NOT NULL,
    user_id character varying NOT NULL
);


--
-- Name: message_patients; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.message_patients (
    message_id character varying NOT NULL,
    patient_id character varying NOT NULL
);


--
-- Name: messages; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.messages (
    id character varying NOT NULL,
    seq bigint NOT NULL,
    kind character varying DEFAULT 'USER'::character varying NOT NULL,
    body character varying NOT NULL,
    sms boolean DEFAULT false NOT NULL,
    client_message_id character varying,
    created_at timestamp with time zone NOT NULL,
    txid bigint DEFAULT 0 NOT NULL,
    channel_id character varying NOT NULL,
    sender_id character varying,
    sender_patient_id character varying,
    reply_to_id character varying
);


--
-- Name: notifications; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.notifications (
    id character varying NOT NULL,
    kind character varying NOT NULL,
    title character varying NOT NULL,
    body text,
    due_at timestamp with time zone,
    deliver_at timestamp with time zone NOT NULL,
    acknowledged_at timestamp with time zone,
    announced_at timestamp with time zone,
    dedupe_key character varying,
    created_at timestamp with time zone NOT NULL,
    recipient_id character varying NOT NULL,
    patient_id character varying,
    booking_id character varying,
    from_id character varying
);


--
-- Name: outbox_messages; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.outbox_messages (
    id character varying NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    channel character varying NOT NULL,
    recipient character varying NOT NULL,
    subject character varying,
    body text NOT NULL,
    route character varying,
    status character varying DEFAULT 'PENDING'::character varying NOT NULL,
    attempts bigint DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone NOT NULL,
    last_error character varying,
    idempotency_key character varying NOT NULL,
    provider_ref character varying,
    cause_message_id character varying,
    sent_at timestamp with time zone,
    patient_facing boolean DEFAULT false NOT NULL,
    held_until timestamp with time zone,
    unsubscribe_url character varying,
    provider_status character varying,
    delivered_at timestamp with time zone
);


--
-- Name: patient_sessions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.patient_sessions (
    id character varying NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    refresh_hash character varying NOT NULL,
    refresh_generation bigint DEFAULT 0 NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    last_used_at timestamp with time zone NOT NULL,
    revoked_at timestamp with time zone,
    revoked_reason character varying,
    user_agent character varying,
    ip_address character varying,
    patient_id character varying NOT NULL
);


--
-- Name: patients; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.patients (
    id character varying NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    external_id character varying,
    patient_number character varying NOT NULL,
    first_name character varying NOT NULL,
    last_name character varying NOT NULL,
    birth_date character varying,
    mobile character varying,
    email character varying,
    address_line1 character varying,
    address_line2 character varying,
    city character varying,
    region character varying,
    postcode character varying,
    gp_name character varying,
    gp_practice character varying,
    gp_address character varying,
    gp_email character varying,
    portal_password_hash character varying,
    source_version bigint DEFAULT 0 NOT NULL
);


--
-- Name: practice_profiles; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.practice_profiles (
    id character varying NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    name character varying,
    phone character varying,
    address character varying,
    time_zone character varying
);


--
-- Name: program_actions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.program_actions (
    id character varying NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    "position" bigint NOT NULL,
    type character varying NOT NULL,
    save_reply_content boolean DEFAULT false NOT NULL,
    letter_option character varying,
    "offset" bigint DEFAULT 0 NOT NULL,
    unit character varying DEFAULT 'DAYS'::character varying NOT NULL,
    relation character varying DEFAULT 'ON'::character varying NOT NULL,
    pause_on_error boolean DEFAULT true NOT NULL,
    archived_at timestamp with time zone,
    program_id character varying NOT NULL,
    template_id character varying
);


--
-- Name: program_completing_booking_types; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.program_completing_booking_types (
    program_id character varying NOT NULL,
    booking_type_id character varying NOT NULL
);


--
-- Name: programs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.programs (
    id character varying NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    name character varying NOT NULL,
    type character varying NOT NULL,
    cycles bigint DEFAULT 1 NOT NULL,
    frequency_every bigint,
    frequency_unit character varying,
    completion character varying DEFAULT 'IGNORE'::character varying NOT NULL,
    enabled boolean DEFAULT false NOT NULL
);


--
-- Name: referrals; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.referrals (
    id character varying NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    external_id character varying NOT NULL,
    referral_date timestamp with time zone NOT NULL,
    referrer character varying,
    reason character varying,
    source_version bigint DEFAULT 0 NOT NULL,
    patient_id character varying NOT NULL
);


--
-- Name: security_groups; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.security_groups (
    id character varying NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    name character varying NOT NULL,
    permissions jsonb
);


--
-- Name: sessions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.sessions (
    id character varying NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    refresh_hash character varying NOT NULL,
    refresh_generation bigint DEFAULT 0 NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    last_used_at timestamp with time zone NOT NULL,
    revoked_at timestamp with time zone,
    revoked_reason character varying,
    user_agent character varying,
    ip_address character varying,
    user_id character varying NOT NULL
);


--
-- Name: settings; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.settings (
    id character varying NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    value text NOT NULL
);


--
-- Name: sign_in_throttles; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.sign_in_throttles (
    id character varying NOT NULL,
    failures bigint DEFAULT 0 NOT NULL,
    window_start timestamp with time zone NOT NULL
);


--
-- Name: templates; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.templates (
    id character varying NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    kind character varying NOT NULL,
    name character varying NOT NULL,
    subject character varying,
    body text NOT NULL
);


--
-- Name: user_security_groups; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.user_security_groups (
    user_id character varying NOT NULL,
    security_group_id character varying NOT NULL
);


--
-- Name: user_tokens; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.user_tokens (
    id character varying NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    user_id character varying NOT NULL,
    purpose character varying NOT NULL,
    token_hash character varying NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    used_at timestamp with time zone,
    created_by character varying
);


--
-- Name: users; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.users (
    id character varying NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    kind character varying DEFAULT 'STAFF'::character varying NOT NULL,
    name character varying NOT NULL,
    email character varying NOT NULL,
    mobile character varying,
    job_title character varying,
    external_id character varying,
    active boolean DEFAULT true NOT NULL,
    password_hash character varying,
    permissions jsonb,
    failed_logins bigint DEFAULT 0 NOT NULL,
    locked_until timestamp with time zone,
    open_on_new_message boolean DEFAULT true NOT NULL,
    keep_hidden boolean DEFAULT false NOT NULL,
    never_receive_direct boolean DEFAULT false NOT NULL,
    open_on_startup boolean DEFAULT false NOT NULL,
    patient_arrived_alerts boolean DEFAULT false NOT NULL,
    staff_auto_reply character varying,
    staff_auto_reply_until timestamp with time zone,
    patient_auto_reply character varying,
    patient_auto_reply_until timestamp with time zone
);


--
-- Data for Name: access_log_entries; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.access_log_entries VALUES ('al01M96MVCMW280XC2F1ZPR5BPES', 'VIEW_PATIENT', '2026-12-06 21:41:07.356948+00', 'us01M96MVAQK9J16WSGXB48A7BQT', 'pa01M96MVB1WRT5A0GRC0VSP36SN', NULL, NULL);
INSERT INTO public.access_log_entries VALUES ('al01M96MVCMW0E26V6J77QKT7D02', 'VIEW_PATIENT', '2026-12-06 21:41:07.356948+00', 'us01M96MVAQK9J16WSGXB48A7BQT', 'pa01M96MVB0E255TA3R34QHAZKCM', NULL, NULL);
INSERT INTO public.access_log_entries VALUES ('al01M96MVCMWK95VG65TAGQTR3PJ', 'VIEW_PATIENT', '2026-12-06 21:41:07.356948+00', 'us01M96MVAQK9J16WSGXB48A7BQT', 'pa01M96MVB1XDWER80MYT1MASRKY', NULL, NULL);
INSERT INTO public.access_log_entries VALUES ('al01M96MVCMWFGJJ9MJWQN175KM8', 'VIEW_PATIENT', '2026-12-06 21:41:07.356948+00', 'us01M96MVAQK9J16WSGXB48A7BQT', 'pa01M96MVB1V05GQT26XCG1QP7DP', NULL, NULL);
INSERT INTO public.access_log_entries VALUES ('al01M96MVCMW0H5Y1SKEKHP52W3E', 'VIEW_PATIENT', '2026-12-06 21:41:07.356948+00', 'us01M96MVAQK9J16WSGXB48A7BQT', 'pa01M96MVB1W2WK9WC58TPAPAD0E', NULL, NULL);
INSERT INTO public.access_log_entries VALUES ('al01M96MVCMW6ERYB4KCE9CC027S', 'VIEW_PATIENT', '2026-12-06 21:41:07.356948+00', 'us01M96MVAQK9J16WSGXB48A7BQT', 'pa01M96MVB1W0FNT9W3ZZZWS53D9', NULL, NULL);


--
-- Data for Name: api_keys; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.api_keys VALUES ('ak01M96MVAZE2HG016EETYDGB5XT', '2026-12-06 21:41:05.646992+00', '2026-12-06 21:41:05.646993+00', 'Demo integration', '6a5fcc65b70a80e0fd666a11e888348afbe019ff16e45a771cc31cf2cc3e63e5', 'wk_demo_in', NULL, NULL, 'us01M96MVAZEYM47X6N0VBWQTV33');


--
-- Data for Name: auto_reply_sents; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: booking_status_changes; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: booking_types; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.booking_types VALUES ('bt01M96MVB1XKWCDR8EN5PFPATAT', '2026-12-06 21:41:05.725924+00', '2026-12-06 21:41:05.725924+00', 'bt-standard', 'Standard Consultation', 15, 0);
INSERT INTO public.booking_types VALUES ('bt01M96MVB1YXCA0JGXVQNVSVTJB', '2026-12-06 21:41:05.726607+00', '2026-12-06 21:41:05.726607+00', 'bt-recall', 'Recall Review', 30, 0);


--
-- Data for Name: bookings; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.bookings VALUES ('bk01M96MVB24CASVT7M26NP8K937', '2026-12-06 21:41:05.732689+00', '2026-12-06 21:41:05.732689+00', 'bk-demo-1', '2026-12-06 09:00:00+00', 'BOOKED', 0, 'us01M96MVAQK9J16WSGXB48A7BQT', 'bt01M96MVB1XKWCDR8EN5PFPATAT', 'pa01M96MVB0E255TA3R34QHAZKCM');
INSERT INTO public.bookings VALUES ('bk01M96MVB252NWNA414SAFK0AD9', '2026-12-06 21:41:05.733799+00', '2026-12-06 21:41:05.733799+00', 'bk-demo-2', '2026-12-06 09:00:00+00', 'BOOKED', 0, 'us01M96MVAW7SYWSA996GSXK60ET', 'bt01M96MVB1XKWCDR8EN5PFPATAT', 'pa01M96MVB1TPET7HPE938ZK1WY4');
INSERT INTO public.bookings VALUES ('bk01M96MVB2CZRJ5EDRACP48FFAK', '2026-12-06 21:41:05.740105+00', '2026-12-06 21:41:05.740105+00', 'bk-demo-3', '2026-12-06 09:30:00+00', 'BOOKED', 0, 'us01M96MVAQK9J16WSGXB48A7BQT', 'bt01M96MVB1XKWCDR8EN5PFPATAT', 'pa01M96MVB1V5635QTNESZNNQQ30');
INSERT INTO public.bookings VALUES ('bk01M96MVB2CBCSV2DBKW902D53F', '2026-12-06 21:41:05.7406+00', '2026-12-06 21:41:05.740601+00', 'bk-demo-4', '2026-12-06 09:30:00+00', 'BOOKED', 0, 'us01M96MVAW7SYWSA996GSXK60ET', 'bt01M96MVB1YXCA0JGXVQNVSVTJB', 'pa01M96MVB1V9326S5VJ2WTKDWM8');
INSERT INTO public.bookings VALUES ('bk01M96MVB2D5JMFX2DMVW587JFV', '2026-12-06 21:41:05.741001+00', '2026-12-06 21:41:05.741002+00', 'bk-demo-5', '2026-12-06 10:00:00+00', 'BOOKED', 0, 'us01M96MVAQK9J16WSGXB48A7BQT', 'bt01M96MVB1XKWCDR8EN5PFPATAT', 'pa01M96MVB1V05GQT26XCG1QP7DP');
INSERT INTO public.bookings VALUES ('bk01M96MVB2DS3EKDCAXZ96XY3GV', '2026-12-06 21:41:05.741353+00', '2026-12-06 21:41:05.741354+00', 'bk-demo-6', '2026-12-06 10:00:00+00', 'BOOKED', 0, 'us01M96MVAW7SYWSA996GSXK60ET', 'bt01M96MVB1XKWCDR8EN5PFPATAT', 'pa01M96MVB1W1NDHK0RYYWGP6S2Q');
INSERT INTO public.bookings VALUES ('bk01M96MVB2D9KMPWFWHKJASG8NS', '2026-12-06 21:41:05.741741+00', '2026-12-06 21:41:05.741741+00', 'bk-demo-7', '2026-12-06 10:30:00+00', 'BOOKED', 0, 'us01M96MVAQK9J16WSGXB48A7BQT', 'bt01M96MVB1XKWCDR8EN5PFPATAT', 'pa01M96MVB1W0FNT9W3ZZZWS53D9');
INSERT INTO public.bookings VALUES ('bk01M96MVB2HZ1WENAECATW54Q0Z', '2026-12-06 21:41:05.745777+00', '2026-12-06 21:41:05.745778+00', 'bk-demo-8', '2026-12-06 10:30:00+00', 'BOOKED', 0, 'us01M96MVAW7SYWSA996GSXK60ET', 'bt01M96MVB1YXCA0JGXVQNVSVTJB', 'pa01M96MVB1W2WK9WC58TPAPAD0E');


--
-- Data for Name: channel_custom_channels; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: channel_custom_groups; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: channel_custom_users; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.channel_custom_users VALUES ('ch01M96MVCJ90KNSYDVZV3EB64ZD', 'us01M96MVAQK9J16WSGXB48A7BQT');
INSERT INTO public.channel_custom_users VALUES ('ch01M96MVCJ90KNSYDVZV3EB64ZD', 'us01M96MVAW7SYWSA996GSXK60ET');
INSERT INTO public.channel_custom_users VALUES ('ch01M96MVCJ90KNSYDVZV3EB64ZD', 'us01M96MVAY8QN3HWEDRJ60ZBB4N');


--
-- Data for Name: channel_members; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.channel_members VALUES ('cm01M96MVCG9DZZ5405PBCXG6V2K', '2026-12-06 21:41:07.209407+00', '2026-12-06 21:41:07.231877+00', 1, 'ch01M96MVCG8JGD3XP0KJZ4SM44A', 'us01M96MVAQK9J16WSGXB48A7BQT');
INSERT INTO public.channel_members VALUES ('cm01M96MVCJH3CG9NRAG6C3277J3', '2026-12-06 21:41:07.281463+00', '2026-12-06 21:41:07.281463+00', 0, 'ch01M96MVCJ90KNSYDVZV3EB64ZD', 'us01M96MVAW7SYWSA996GSXK60ET');
INSERT INTO public.channel_members VALUES ('cm01M96MVCJJ5QZN139BEQF3QD3V', '2026-12-06 21:41:07.282583+00', '2026-12-06 21:41:07.282583+00', 0, 'ch01M96MVCJ90KNSYDVZV3EB64ZD', 'us01M96MVAY8QN3HWEDRJ60ZBB4N');
INSERT INTO public.channel_members VALUES ('cm01M96MVCJ94GCCX461JKEXSK54', '2026-12-06 21:41:07.273775+00', '2026-12-06 21:41:07.294069+00', 1, 'ch01M96MVCJ90KNSYDVZV3EB64ZD', 'us01M96MVAQK9J16WSGXB48A7BQT');
INSERT INTO public.channel_members VALUES ('cm01M96MVCGKNJFVGC4TZ2ZGPSR4', '2026-12-06 21:41:07.219322+00', '2026-12-06 21:41:07.342564+00', 2, 'ch01M96MVCG8JGD3XP0KJZ4SM44A', 'us01M96MVAW7SYWSA996GSXK60ET');
INSERT INTO public.channel_members VALUES ('cm01M96MVCNCD97V67P4NJGZ4WP1', '2026-12-06 21:41:07.37263+00', '2026-12-06 21:41:07.378714+00', 1, 'ch01M96MVCNCM6KG37NS9HSV1F3G', 'us01M96MVAQK9J16WSGXB48A7BQT');


--
-- Data for Name: channels; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.channels VALUES ('ch01M96MVCG8JGD3XP0KJZ4SM44A', '2026-12-06 21:41:07.208501+00', '2026-12-06 21:41:07.251714+00', 'INDIVIDUAL', '', NULL, 'individual:us01M96MVAQK9J16WSGXB48A7BQT:us01M96MVAW7SYWSA996GSXK60ET', 2, 78191, 2, 0, '2026-12-06 21:41:07.251714+00', NULL, NULL);
INSERT INTO public.channels VALUES ('ch01M96MVCJ90KNSYDVZV3EB64ZD', '2026-12-06 21:41:07.273427+00', '2026-12-06 21:41:07.294069+00', 'CUSTOM_GROUP', 'Fixture group', NULL, 'custom:4e06161e0d5f2b0bb95d710bb8274487816b4f73', 1, 78196, 1, 0, '2026-12-06 21:41:07.294069+00', NULL, NULL);
INSERT INTO public.channels VALUES ('ch01M96MVCNCM6KG37NS9HSV1F3G', '2026-12-06 21:41:07.372012+00', '2026-12-06 21:41:07.376987+00', 'PATIENT', '', 'Fixture results', NULL, 1, 78203, 1, 0, '2026-12-06 21:41:07.376987+00', 'pa01M96MVB1WRT5A0GRC0VSP36SN', NULL);


--
-- Data for Name: consent_changes; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: consents; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: directory_log_entries; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: enrollment_steps; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: enrollments; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: inbound_sm_ss; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: label_messages; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.label_messages VALUES ('lb01M96MVCMH3FMF4CS2X0VMR2J5', 'ms01M96MVCH2367808RAPG67BV0W');


--
-- Data for Name: labels; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.labels VALUES ('lb01M96MVCMH3FMF4CS2X0VMR2J5', '2026-12-06 21:41:07.345556+00', '2026-12-06 21:41:07.350032+00', 'Fixture label', 'us01M96MVAQK9J16WSGXB48A7BQT');


--
-- Data for Name: membership_spans; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.membership_spans VALUES ('mh01M96MVCGGNZ3WY1HG7WCJQBR9', 0, NULL, '2026-12-06 21:41:07.216021+00', 'ch01M96MVCG8JGD3XP0KJZ4SM44A', 'us01M96MVAQK9J16WSGXB48A7BQT');
INSERT INTO public.membership_spans VALUES ('mh01M96MVCGSYHC2KR7ZKQBH72PW', 0, NULL, '2026-12-06 21:41:07.225467+00', 'ch01M96MVCG8JGD3XP0KJZ4SM44A', 'us01M96MVAW7SYWSA996GSXK60ET');
INSERT INTO public.membership_spans VALUES ('mh01M96MVCJBVVATGN211CJCGZNM', 0, NULL, '2026-12-06 21:41:07.275489+00', 'ch01M96MVCJ90KNSYDVZV3EB64ZD', 'us01M96MVAQK9J16WSGXB48A7BQT');
INSERT INTO public.membership_spans VALUES ('mh01M96MVCJJ5V44EZJRA9SD96KR', 0, NULL, '2026-12-06 21:41:07.282233+00', 'ch01M96MVCJ90KNSYDVZV3EB64ZD', 'us01M96MVAW7SYWSA996GSXK60ET');
INSERT INTO public.membership_spans VALUES ('mh01M96MVCJKC4R5XXN42WEVF9RQ', 0, NULL, '2026-12-06 21:41:07.283312+00', 'ch01M96MVCJ90KNSYDVZV3EB64ZD', 'us01M96MVAY8QN3HWEDRJ60ZBB4N');
INSERT INTO public.membership_spans VALUES ('mh01M96MVCNG7F2D30CVDFFRDY23', 0, NULL, '2026-12-06 21:41:07.376437+00', 'ch01M96MVCNCM6KG37NS9HSV1F3G', 'us01M96MVAQK9J16WSGXB48A7BQT');


--
-- Data for Name: message_patients; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: messages; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.messages VALUES ('ms01M96MVCH2367808RAPG67BV0W', 1, 'USER', 'Fixture: lunch at one?', false, NULL, '2026-12-06 21:41:07.231877+00', 78189, 'ch01M96MVCG8JGD3XP0KJZ4SM44A', 'us01M96MVAQK9J16WSGXB48A7BQT', NULL, NULL);
INSERT INTO public.messages VALUES ('ms01M96MVCHNX2M2Q1384B4EZGKR', 2, 'USER', 'Fixture: yes', false, NULL, '2026-12-06 21:41:07.251714+00', 78191, 'ch01M96MVCG8JGD3XP0KJZ4SM44A', 'us01M96MVAW7SYWSA996GSXK60ET', NULL, NULL);
INSERT INTO public.messages VALUES ('ms01M96MVCK5YA6K8KBVSZFEBT48', 1, 'USER', 'Fixture: group hello', false, NULL, '2026-12-06 21:41:07.294069+00', 78196, 'ch01M96MVCJ90KNSYDVZV3EB64ZD', 'us01M96MVAQK9J16WSGXB48A7BQT', NULL, NULL);
INSERT INTO public.messages VALUES ('ms01M96MVCNHX5QHCQ4EP2THW9XP', 1, 'USER', 'Fixture: your results are in', false, NULL, '2026-12-06 21:41:07.376987+00', 78203, 'ch01M96MVCNCM6KG37NS9HSV1F3G', 'us01M96MVAQK9J16WSGXB48A7BQT', NULL, NULL);


--
-- Data for Name: notifications; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.notifications VALUES ('nt01M96MVCPTS6FEJ3P883ED8PKM', 'ANNOUNCEMENT', 'Fixture announcement', 'Staff meeting', NULL, '2026-12-06 21:41:07.418026+00', NULL, '2026-12-06 21:41:07.418026+00', NULL, '2026-12-06 21:41:07.418224+00', 'us01M96MVAQK9J16WSGXB48A7BQT', NULL, NULL, 'us01M96MVAC3SDGFN985C3GR98NN');


--
-- Data for Name: outbox_messages; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: patient_sessions; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: patients; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.patients VALUES ('pa01M96MVB0E255TA3R34QHAZKCM', '2026-12-06 21:41:05.678472+00', '2026-12-06 21:41:05.678473+00', 'pms-0001', 'P0001', 'Olivia', 'Brown', '1984-03-12', '+61411000001', 'olivia.brown@example.com', '10 Harbour Street', NULL, 'Sydney', 'NSW', '2000', 'Dr Ruth Okafor', 'Harbourside Family Practice', '1 Quay Lane, Sydney NSW 2000', NULL, '$argon2id$v=19$m=19456,t=2,p=1$9jXW/ga5fA5qcQbOxzQqEw$IhXl0NP5/jdc8u8Cwkww09p3D75O6ig5L6105N0ODDY', 0);
INSERT INTO public.patients VALUES ('pa01M96MVB1TPET7HPE938ZK1WY4', '2026-12-06 21:41:05.72241+00', '2026-12-06 21:41:05.722412+00', 'pms-0002', 'P0002', 'Liam', 'Wilson', '1979-11-02', '+61411000002', 'liam.wilson@example.com', '11 Harbour Street', NULL, 'Sydney', 'NSW', '2000', 'Dr Ruth Okafor', 'Harbourside Family Practice', '1 Quay Lane, Sydney NSW 2000', NULL, '$argon2id$v=19$m=19456,t=2,p=1$q4aIWwlsdRw+pWluHzhyrA$rRQ9l3zNQrmULZCuVci3U2TG04RUZWidtFBV64Ji1y8', 0);
INSERT INTO public.patients VALUES ('pa01M96MVB1V5635QTNESZNNQQ30', '2026-12-06 21:41:05.723156+00', '2026-12-06 21:41:05.723157+00', 'pms-0003', 'P0003', 'Charlotte', 'Nguyen', '1992-06-25', '+61411000003', NULL, '12 Harbour Street', NULL, 'Sydney', 'NSW', '2000', 'Dr Ruth Okafor', 'Harbourside Family Practice', '1 Quay Lane, Sydney NSW 2000', NULL, NULL, 0);
INSERT INTO public.patients VALUES ('pa01M96MVB1V9326S5VJ2WTKDWM8', '2026-12-06 21:41:05.72347+00', '2026-12-06 21:41:05.72347+00', 'pms-0004', 'P0004', 'Noah', 'Smith', '1958-01-30', '+61411000004', 'noah.smith@example.com', '13 Harbour Street', NULL, 'Sydney', 'NSW', '2000', 'Dr Ruth Okafor', 'Harbourside Family Practice', '1 Quay Lane, Sydney NSW 2000', NULL, NULL, 0);
INSERT INTO public.patients VALUES ('pa01M96MVB1V05GQT26XCG1QP7DP', '2026-12-06 21:41:05.723763+00', '2026-12-06 21:41:05.723763+00', 'pms-0005', 'P0005', 'Amelia', 'Jones', '2001-09-14', NULL, 'amelia.jones@example.com', '14 Harbour Street', NULL, 'Sydney', 'NSW', '2000', 'Dr Ruth Okafor', 'Harbourside Family Practice', '1 Quay Lane, Sydney NSW 2000', NULL, NULL, 0);
INSERT INTO public.patients VALUES ('pa01M96MVB1W1NDHK0RYYWGP6S2Q', '2026-12-06 21:41:05.724063+00', '2026-12-06 21:41:05.724064+00', 'pms-0006', 'P0006', 'Oliver', 'Taylor', '1966-12-08', '+61411000006', 'oliver.taylor@example.com', '15 Harbour Street', NULL, 'Sydney', 'NSW', '2000', 'Dr Ruth Okafor', 'Harbourside Family Practice', '1 Quay Lane, Sydney NSW 2000', NULL, NULL, 0);
INSERT INTO public.patients VALUES ('pa01M96MVB1W0FNT9W3ZZZWS53D9', '2026-12-06 21:41:05.724337+00', '2026-12-06 21:41:05.724337+00', 'pms-0007', 'P0007', 'Isla', 'Martin', '1988-04-19', '+61411000007', NULL, '16 Harbour Street', NULL, 'Sydney', 'NSW', '2000', 'Dr Ruth Okafor', 'Harbourside Family Practice', '1 Quay Lane, Sydney NSW 2000', NULL, NULL, 0);
INSERT INTO public.patients VALUES ('pa01M96MVB1W2WK9WC58TPAPAD0E', '2026-12-06 21:41:05.72458+00', '2026-12-06 21:41:05.724581+00', 'pms-0008', 'P0008', 'William', 'Lee', '1945-07-03', '+61411000008', 'william.lee@example.com', '17 Harbour Street', NULL, 'Sydney', 'NSW', '2000', 'Dr Ruth Okafor', 'Harbourside Family Practice', '1 Quay Lane, Sydney NSW 2000', NULL, NULL, 0);
INSERT INTO public.patients VALUES ('pa01M96MVB1WRT5A0GRC0VSP36SN', '2026-12-06 21:41:05.724829+00', '2026-12-06 21:41:05.724829+00', 'pms-0009', 'P0009', 'Mia', 'Anderson', '2015-02-27', '+61411000009', 'parents.anderson@example.com', '18 Harbour Street', NULL, 'Sydney', 'NSW', '2000', 'Dr Ruth Okafor', 'Harbourside Family Practice', '1 Quay Lane, Sydney NSW 2000', NULL, NULL, 0);
INSERT INTO public.patients VALUES ('pa01M96MVB1X3EX0ZHMZPKC6XPT5', '2026-12-06 21:41:05.725104+00', '2026-12-06 21:41:05.725104+00', 'pms-0010', 'P0010', 'Jack', 'Thompson', '1973-10-11', '+61411000010', 'jack.thompson@example.com', '19 Harbour Street', NULL, 'Sydney', 'NSW', '2000', 'Dr Ruth Okafor', 'Harbourside Family Practice', '1 Quay Lane, Sydney NSW 2000', NULL, NULL, 0);
INSERT INTO public.patients VALUES ('pa01M96MVB1XXXRXKAZ46XNBA2PR', '2026-12-06 21:41:05.72535+00', '2026-12-06 21:41:05.72535+00', 'pms-0011', 'P0011', 'Ava', 'White', '1999-05-05', '+61411000011', 'ava.white@example.com', '20 Harbour Street', NULL, 'Sydney', 'NSW', '2000', 'Dr Ruth Okafor', 'Harbourside Family Practice', '1 Quay Lane, Sydney NSW 2000', NULL, NULL, 0);
INSERT INTO public.patients VALUES ('pa01M96MVB1XDWER80MYT1MASRKY', '2026-12-06 21:41:05.725627+00', '2026-12-06 21:41:05.725627+00', 'pms-0012', 'P0012', 'Henry', 'Harris', '1951-08-21', NULL, NULL, '21 Harbour Street', NULL, 'Sydney', 'NSW', '2000', 'Dr Ruth Okafor', 'Harbourside Family Practice', '1 Quay Lane, Sydney NSW 2000', NULL, NULL, 0);


--
-- Data for Name: practice_profiles; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: program_actions; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.program_actions VALUES ('pn01M96MVB21BDDAHWJE07700GCF', '2026-12-06 21:41:05.729172+00', '2026-12-06 21:41:05.729172+00', 0, 'SMS', true, NULL, 2, 'WEEKS', 'BEFORE', false, NULL, 'pg01M96MVB1Z5C645WJDPPHMZN12', 'tp01M96MVB1YZ8MV5BJ89J4Y5TXD');
INSERT INTO public.program_actions VALUES ('pn01M96MVB249MMH6CR0K5G3HEV9', '2026-12-06 21:41:05.732197+00', '2026-12-06 21:41:05.732197+00', 1, 'LETTER_TO_PATIENT', false, 'SAVE_FILE', 0, 'DAYS', 'ON', true, NULL, 'pg01M96MVB1Z5C645WJDPPHMZN12', 'tp01M96MVB1ZYQGKAPAW5K7S4YA1');


--
-- Data for Name: program_completing_booking_types; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.program_completing_booking_types VALUES ('pg01M96MVB1Z5C645WJDPPHMZN12', 'bt01M96MVB1YXCA0JGXVQNVSVTJB');


--
-- Data for Name: programs; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.programs VALUES ('pg01M96MVB1Z5C645WJDPPHMZN12', '2026-12-06 21:41:05.727636+00', '2026-12-06 21:41:05.727637+00', 'Annual health check recall', 'RECALL', 3, 12, 'MONTHS', 'SELECTED', true);


--
-- Data for Name: referrals; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: security_groups; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.security_groups VALUES ('sg01M96MVA1BZ600PAX3J2PKE7RT', '2026-12-06 21:41:04.683597+00', '2026-12-06 21:41:04.683598+00', 'Default', '["ACCESS_WHISPER"]');
INSERT INTO public.security_groups VALUES ('sg01M96MVA1CRZ86N9WH9VP0HPWX', '2026-12-06 21:41:04.684768+00', '2026-12-06 21:41:04.684768+00', 'HMS-Administrator', '["WHISPER_ADMIN", "DIRECTORY_MANAGE", "PATIENT_CONNECT_MANAGE"]');
INSERT INTO public.security_groups VALUES ('sg01M96MVA1DZA7SJ3FB6RFA9B4N', '2026-12-06 21:41:04.685232+00', '2026-12-06 21:41:04.685232+00', 'Doctors', '[]');
INSERT INTO public.security_groups VALUES ('sg01M96MVA1DQR9KDE0QHG480P3D', '2026-12-06 21:41:04.685592+00', '2026-12-06 21:41:04.685592+00', 'Nurses', '[]');
INSERT INTO public.security_groups VALUES ('sg01M96MVA1DDQM79M598TFJ0A3D', '2026-12-06 21:41:04.685955+00', '2026-12-06 21:41:04.685956+00', 'Reception', '[]');


--
-- Data for Name: sessions; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.sessions VALUES ('se01M96MVBZWA27VMBRV7P9674CN', '2026-12-06 21:41:06.684124+00', '2026-12-06 21:41:06.684128+00', 'a6b1862c3973df190270ec2a0c4d9f87c7bdcd385d16c5715af0c1c7bb0b4938', 0, '2027-01-05 21:41:06.555986+00', '2026-12-06 21:41:06.555986+00', NULL, NULL, 'Python-urllib/3.11', '127.0.0.1', 'us01M96MVAQK9J16WSGXB48A7BQT');
INSERT INTO public.sessions VALUES ('se01M96MVCARFZ82H5912RJDBQRW', '2026-12-06 21:41:07.032718+00', '2026-12-06 21:41:07.032719+00', 'e7dc5677fa50b79fe6d970fa58c0eece4a6497e727c13e395820ab9cc154636c', 0, '2027-01-05 21:41:06.69955+00', '2026-12-06 21:41:06.69955+00', NULL, NULL, 'Python-urllib/3.11', '127.0.0.1', 'us01M96MVAW7SYWSA996GSXK60ET');
INSERT INTO public.sessions VALUES ('se01M96MVCF7NAHEAR4NFP5GSVN4', '2026-12-06 21:41:07.175624+00', '2026-12-06 21:41:07.175624+00', '7b31d06c8d7010f3fb4227f364a66c4de0e1a62f3cc00d6e7338558624160e00', 0, '2027-01-05 21:41:07.039643+00', '2026-12-06 21:41:07.039643+00', NULL, NULL, 'Python-urllib/3.11', '127.0.0.1', 'us01M96MVAC3SDGFN985C3GR98NN');


--
-- Data for Name: settings; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.settings VALUES ('token_secret', '2026-12-06 21:41:04.621753+00', '2026-12-06 21:41:04.621754+00', '294eb83ebee2be3c14f2364f71f74ba21bc9558b9ce95223cbb79dc3915a1e9e');


--
-- Data for Name: sign_in_throttles; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: templates; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.templates VALUES ('tp01M96MVB1YZ8MV5BJ89J4Y5TXD', '2026-12-06 21:41:05.726887+00', '2026-12-06 21:41:05.726887+00', 'SMS', 'Recall reminder (SMS)', NULL, 'Hi {{patient.firstName}}, it''s time for your annual health check at {{practice.name}}. Reply YES and we will call you to book, or call us on {{practice.phone}}.');
INSERT INTO public.templates VALUES ('tp01M96MVB1ZYQGKAPAW5K7S4YA1', '2026-12-06 21:41:05.727387+00', '2026-12-06 21:41:05.727387+00', 'LETTER', 'Recall letter', 'Your annual health check', 'Dear {{patient.firstName}} {{patient.lastName}},

Our records show you are due for your annual health check. Please call {{practice.phone}} to make a booking.

Kind regards,
{{practice.name}}');


--
-- Data for Name: user_security_groups; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.user_security_groups VALUES ('us01M96MVAC3SDGFN985C3GR98NN', 'sg01M96MVA1BZ600PAX3J2PKE7RT');
INSERT INTO public.user_security_groups VALUES ('us01M96MVAC3SDGFN985C3GR98NN', 'sg01M96MVA1CRZ86N9WH9VP0HPWX');
INSERT INTO public.user_security_groups VALUES ('us01M96MVAQK9J16WSGXB48A7BQT', 'sg01M96MVA1BZ600PAX3J2PKE7RT');
INSERT INTO public.user_security_groups VALUES ('us01M96MVAQK9J16WSGXB48A7BQT', 'sg01M96MVA1DZA7SJ3FB6RFA9B4N');
INSERT INTO public.user_security_groups VALUES ('us01M96MVAW7SYWSA996GSXK60ET', 'sg01M96MVA1DZA7SJ3FB6RFA9B4N');
INSERT INTO public.user_security_groups VALUES ('us01M96MVAW7SYWSA996GSXK60ET', 'sg01M96MVA1BZ600PAX3J2PKE7RT');
INSERT INTO public.user_security_groups VALUES ('us01M96MVAY8QN3HWEDRJ60ZBB4N', 'sg01M96MVA1BZ600PAX3J2PKE7RT');
INSERT INTO public.user_security_groups VALUES ('us01M96MVAY8QN3HWEDRJ60ZBB4N', 'sg01M96MVA1DQR9KDE0QHG480P3D');
INSERT INTO public.user_security_groups VALUES ('us01M96MVAZDHGXBTCP4SDAYXZN1', 'sg01M96MVA1BZ600PAX3J2PKE7RT');
INSERT INTO public.user_security_groups VALUES ('us01M96MVAZDHGXBTCP4SDAYXZN1', 'sg01M96MVA1DDQM79M598TFJ0A3D');


--
-- Data for Name: user_tokens; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: users; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.users VALUES ('us01M96MVAY8QN3HWEDRJ60ZBB4N', '2026-12-06 21:41:05.608194+00', '2026-12-06 21:41:05.608196+00', 'STAFF', 'Jordan Kim', 'nurse.kim@demo.clinic', NULL, 'Practice Nurse', NULL, true, '$argon2id$v=19$m=19456,t=2,p=1$DNGdDHkERZASxrZA66YCoA$07I/4EFQ0GZ+AKygjZqLklpsMZvm6eFRv3SqpgMNPrs', NULL, 0, NULL, true, false, false, false, false, NULL, NULL, NULL, NULL);
INSERT INTO public.users VALUES ('us01M96MVAZDHGXBTCP4SDAYXZN1', '2026-12-06 21:41:05.645561+00', '2026-12-06 21:41:05.645563+00', 'STAFF', 'Sam Taylor', 'reception@demo.clinic', '+61400000005', 'Receptionist', NULL, true, '$argon2id$v=19$m=19456,t=2,p=1$5bULXmcUuLCcuemJXYHUhw$LbWIHp8EskYAd7XJfddM9Z6BUEP2uIO8kM84uimSHM8', NULL, 0, NULL, true, false, false, false, false, NULL, NULL, NULL, NULL);
INSERT INTO public.users VALUES ('us01M96MVAZEYM47X6N0VBWQTV33', '2026-12-06 21:41:05.646611+00', '2026-12-06 21:41:05.646611+00', 'SERVICE', 'Practice Management System', 'integration@demo.clinic', NULL, NULL, NULL, true, NULL, '["INTEGRATION"]', 0, NULL, true, false, false, false, false, NULL, NULL, NULL, NULL);
INSERT INTO public.users VALUES ('us01M96MVAQK9J16WSGXB48A7BQT', '2026-12-06 21:41:05.395926+00', '2026-12-06 21:41:06.678604+00', 'STAFF', 'Dr Wei Chen', 'dr.chen@demo.clinic', NULL, 'General Practitioner', NULL, true, '$argon2id$v=19$m=19456,t=2,p=1$RCOMtEA5xKUwTr/x5JjAmg$L/sCnD0cXG6ScRI2UBMhuqtJcH28fFCQl18BYhSU4Kc', NULL, 0, NULL, true, false, false, false, true, NULL, NULL, NULL, NULL);
INSERT INTO public.users VALUES ('us01M96MVAW7SYWSA996GSXK60ET', '2026-12-06 21:41:05.543343+00', '2026-12-06 21:41:07.023996+00', 'STAFF', 'Dr Priya Patel', 'dr.patel@demo.clinic', NULL, 'General Practitioner', NULL, true, '$argon2id$v=19$m=19456,t=2,p=1$hvtB9CX0m+VFZ91BQ3acLw$PzaykZhDP5tcJcyxSZvHZfXOT/EOK8HLuWnLlNJOPTY', NULL, 0, NULL, true, false, false, false, true, NULL, NULL, NULL, NULL);
INSERT INTO public.users VALUES ('us01M96MVAC3SDGFN985C3GR98NN', '2026-12-06 21:41:05.027469+00', '2026-12-06 21:41:07.167587+00', 'STAFF', 'Alex Morgan', 'admin@demo.clinic', NULL, 'Practice Manager', NULL, true, '$argon2id$v=19$m=19456,t=2,p=1$zl7ek7DjeHxqX/HeXi4vlg$n3BuYyI1KGpLd8Oyo9U3MsBmcjA5EPuoE8eCzBHjUeo', NULL, 0, NULL, true, false, false, false, false, NULL, NULL, NULL, NULL);


--
-- Name: access_log_entries access_log_entries_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.access_log_entries
    ADD CONSTRAINT access_log_entries_pkey PRIMARY KEY (id);


--
-- Name: api_keys api_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_pkey PRIMARY KEY (id);


--
-- Name: auto_reply_sents auto_reply_sents_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auto_reply_sents
    ADD CONSTRAINT auto_reply_sents_pkey PRIMARY KEY (id);


--
-- Name: booking_status_changes booking_status_changes_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.booking_status_changes
    ADD CONSTRAINT booking_status_changes_pkey PRIMARY KEY (id);


--
-- Name: booking_types booking_types_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.booking_types
    ADD CONSTRAINT booking_types_pkey PRIMARY KEY (id);


--
-- Name: bookings bookings_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bookings
    ADD CONSTRAINT bookings_pkey PRIMARY KEY (id);


--
-- Name: channel_custom_channels channel_custom_channels_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.channel_custom_channels
    ADD CONSTRAINT channel_custom_channels_pkey PRIMARY KEY (channel_id, included_in_id);


--
-- Name: channel_custom_groups channel_custom_groups_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.channel_custom_groups
    ADD CONSTRAINT channel_custom_groups_pkey PRIMARY KEY (channel_id, security_group_id);


--
-- Name: channel_custom_users channel_custom_users_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.channel_custom_users
    ADD CONSTRAINT channel_custom_users_pkey PRIMARY KEY (channel_id, user_id);


--
-- Name: channel_members channel_members_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.channel_members
    ADD CONSTRAINT channel_members_pkey PRIMARY KEY (id);


--
-- Name: channels channels_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.channels
    ADD CONSTRAINT channels_pkey PRIMARY KEY (id);


--
-- Name: consent_changes consent_changes_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.consent_changes
    ADD CONSTRAINT consent_changes_pkey PRIMARY KEY (id);


--
-- Name: consents consents_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.consents
    ADD CONSTRAINT consents_pkey PRIMARY KEY (id);


--
-- Name: directory_log_entries directory_log_entries_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.directory_log_entries
    ADD CONSTRAINT directory_log_entries_pkey PRIMARY KEY (id);


--
-- Name: enrollment_steps enrollment_steps_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.enrollment_steps
    ADD CONSTRAINT enrollment_steps_pkey PRIMARY KEY (id);


--
-- Name: enrollments enrollments_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.enrollments
    ADD CONSTRAINT enrollments_pkey PRIMARY KEY (id);


--
-- Name: inbound_sm_ss inbound_sm_ss_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.inbound_sm_ss
    ADD CONSTRAINT inbound_sm_ss_pkey PRIMARY KEY (id);


--
-- Name: label_messages label_messages_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.label_messages
    ADD CONSTRAINT label_messages_pkey PRIMARY KEY (label_id, message_id);


--
-- Name: labels labels_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.labels
    ADD CONSTRAINT labels_pkey PRIMARY KEY (id);


--
-- Name: membership_spans membership_spans_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.membership_spans
    ADD CONSTRAINT membership_spans_pkey PRIMARY KEY (id);


--
-- Name: message_patients message_patients_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message_patients
    ADD CONSTRAINT message_patients_pkey PRIMARY KEY (message_id, patient_id);


--
-- Name: messages messages_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.messages
    ADD CONSTRAINT messages_pkey PRIMARY KEY (id);


--
-- Name: notifications notifications_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.notifications
    ADD CONSTRAINT notifications_pkey PRIMARY KEY (id);


--
-- Name: outbox_messages outbox_messages_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.outbox_messages
    ADD CONSTRAINT outbox_messages_pkey PRIMARY KEY (id);


--
-- Name: patient_sessions patient_sessions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.patient_sessions
    ADD CONSTRAINT patient_sessions_pkey PRIMARY KEY (id);


--
-- Name: patients patients_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.patients
    ADD CONSTRAINT patients_pkey PRIMARY KEY (id);


--
-- Name: practice_profiles practice_profiles_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.practice_profiles
    ADD CONSTRAINT practice_profiles_pkey PRIMARY KEY (id);


--
-- Name: program_actions program_actions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.program_actions
    ADD CONSTRAINT program_actions_pkey PRIMARY KEY (id);


--
-- Name: program_completing_booking_types program_completing_booking_types_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.program_completing_booking_types
    ADD CONSTRAINT program_completing_booking_types_pkey PRIMARY KEY (program_id, booking_type_id);


--
-- Name: programs programs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.programs
    ADD CONSTRAINT programs_pkey PRIMARY KEY (id);


--
-- Name: referrals referrals_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.referrals
    ADD CONSTRAINT referrals_pkey PRIMARY KEY (id);


--
-- Name: security_groups security_groups_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.security_groups
    ADD CONSTRAINT security_groups_pkey PRIMARY KEY (id);


--
-- Name: sessions sessions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sessions
    ADD CONSTRAINT sessions_pkey PRIMARY KEY (id);


--
-- Name: settings settings_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.settings
    ADD CONSTRAINT settings_pkey PRIMARY KEY (id);


--
-- Name: sign_in_throttles sign_in_throttles_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sign_in_throttles
    ADD CONSTRAINT sign_in_throttles_pkey PRIMARY KEY (id);


--
-- Name: templates templates_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.templates
    ADD CONSTRAINT templates_pkey PRIMARY KEY (id);


--
-- Name: user_security_groups user_security_groups_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_security_groups
    ADD CONSTRAINT user_security_groups_pkey PRIMARY KEY (user_id, security_group_id);


--
-- Name: user_tokens user_tokens_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_tokens
    ADD CONSTRAINT user_tokens_pkey PRIMARY KEY (id);


--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);


--
-- Name: accesslogentry_actor_id_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX accesslogentry_actor_id_at ON public.access_log_entries USING btree (actor_id, at);


--
-- Name: accesslogentry_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX accesslogentry_at ON public.access_log_entries USING btree (at);


--
-- Name: accesslogentry_patient_id_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX accesslogentry_patient_id_at ON public.access_log_entries USING btree (patient_id, at);


--
-- Name: api_keys_key_hash_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX api_keys_key_hash_key ON public.api_keys USING btree (key_hash);


--
-- Name: autoreplysent_channel_id_user_id_day; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX autoreplysent_channel_id_user_id_day ON public.auto_reply_sents USING btree (channel_id, user_id, day);


--
-- Name: booking_doctor_id_starts_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX booking_doctor_id_starts_at ON public.bookings USING btree (doctor_id, starts_at);


--
-- Name: booking_patient_id_starts_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX booking_patient_id_starts_at ON public.bookings USING btree (patient_id, starts_at);


--
-- Name: booking_types_external_id_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX booking_types_external_id_key ON public.booking_types USING btree (external_id);


--
-- Name: bookings_external_id_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX bookings_external_id_key ON public.bookings USING btree (external_id);


--
-- Name: channel_kind_last_activity_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX channel_kind_last_activity_at ON public.channels USING btree (kind, last_activity_at);


--
-- Name: channel_patient_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX channel_patient_id ON public.channels USING btree (patient_id);


--
-- Name: channelmember_channel_id_user_id; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX channelmember_channel_id_user_id ON public.channel_members USING btree (channel_id, user_id);


--
-- Name: channelmember_user_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX channelmember_user_id ON public.channel_members USING btree (user_id);


--
-- Name: channels_unique_key_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX channels_unique_key_key ON public.channels USING btree (unique_key);


--
-- Name: consent_subject_channel; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX consent_subject_channel ON public.consents USING btree (subject, channel);


--
-- Name: consentchange_patient_id_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX consentchange_patient_id_at ON public.consent_changes USING btree (patient_id, at);


--
-- Name: consentchange_subject_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX consentchange_subject_at ON public.consent_changes USING btree (subject, at);


--
-- Name: directorylogentry_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX directorylogentry_at ON public.directory_log_entries USING btree (at);


--
-- Name: directorylogentry_user_id_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX directorylogentry_user_id_at ON public.directory_log_entries USING btree (user_id, at);


--
-- Name: enrollment_patient_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX enrollment_patient_id ON public.enrollments USING btree (patient_id);


--
-- Name: enrollment_program_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX enrollment_program_id ON public.enrollments USING btree (program_id);


--
-- Name: enrollment_status_next_due_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX enrollment_status_next_due_at ON public.enrollments USING btree (status, next_due_at);


--
-- Name: enrollmentstep_enrollment_id_cycle_action_id; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX enrollmentstep_enrollment_id_cycle_action_id ON public.enrollment_steps USING btree (enrollment_id, cycle, action_id);


--
-- Name: inbound_sm_ss_sid_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX inbound_sm_ss_sid_key ON public.inbound_sm_ss USING btree (sid);


--
-- Name: label_owner_id_name; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX label_owner_id_name ON public.labels USING btree (owner_id, name);


--
-- Name: membershipspan_channel_id_user_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX membershipspan_channel_id_user_id ON public.membership_spans USING btree (channel_id, user_id);


--
-- Name: membershipspan_user_id_channel_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX membershipspan_user_id_channel_id ON public.membership_spans USING btree (user_id, channel_id);


--
-- Name: message_channel_id_seq; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX message_channel_id_seq ON public.messages USING btree (channel_id, seq);


--
-- Name: message_created_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX message_created_at ON public.messages USING btree (created_at);


--
-- Name: message_patients_patient; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX message_patients_patient ON public.message_patients USING btree (patient_id, message_id);


--
-- Name: message_sender_id_client_message_id; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX message_sender_id_client_message_id ON public.messages USING btree (sender_id, client_message_id);


--
-- Name: message_sender_id_created_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX message_sender_id_created_at ON public.messages USING btree (sender_id, created_at);


--
-- Name: message_txid_channel_id_seq; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX message_txid_channel_id_seq ON public.messages USING btree (txid, channel_id, seq);


--
-- Name: messages_body_trgm; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX messages_body_trgm ON public.messages USING gin (body public.gin_trgm_ops);


--
-- Name: notification_created_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX notification_created_at ON public.notifications USING btree (created_at);


--
-- Name: notification_deliver_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX notification_deliver_at ON public.notifications USING btree (deliver_at) WHERE (announced_at IS NULL);


--
-- Name: notification_from_id_created_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX notification_from_id_created_at ON public.notifications USING btree (from_id, created_at);


--
-- Name: notification_patient_id_created_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX notification_patient_id_created_at ON public.notifications USING btree (patient_id, created_at);


--
-- Name: notification_recipient_id_acknowledged_at_deliver_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX notification_recipient_id_acknowledged_at_deliver_at ON public.notifications USING btree (recipient_id, acknowledged_at, deliver_at);


--
-- Name: notification_recipient_id_dedupe_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX notification_recipient_id_dedupe_key ON public.notifications USING btree (recipient_id, dedupe_key);


--
-- Name: notifications_body_trgm; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX notifications_body_trgm ON public.notifications USING gin (body public.gin_trgm_ops);


--
-- Name: notifications_title_trgm; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX notifications_title_trgm ON public.notifications USING gin (title public.gin_trgm_ops);


--
-- Name: outbox_messages_idempotency_key_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX outbox_messages_idempotency_key_key ON public.outbox_messages USING btree (idempotency_key);


--
-- Name: outboxmessage_provider_ref; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX outboxmessage_provider_ref ON public.outbox_messages USING btree (provider_ref);


--
-- Name: outboxmessage_status_next_attempt_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX outboxmessage_status_next_attempt_at ON public.outbox_messages USING btree (status, next_attempt_at);


--
-- Name: patient_last_name_first_name; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX patient_last_name_first_name ON public.patients USING btree (last_name, first_name);


--
-- Name: patients_external_id_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX patients_external_id_key ON public.patients USING btree (external_id);


--
-- Name: patients_patient_number_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX patients_patient_number_key ON public.patients USING btree (patient_number);


--
-- Name: patientsession_patient_id_revoked_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX patientsession_patient_id_revoked_at ON public.patient_sessions USING btree (patient_id, revoked_at);


--
-- Name: programaction_program_id_position; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX programaction_program_id_position ON public.program_actions USING btree (program_id, "position");


--
-- Name: referrals_external_id_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX referrals_external_id_key ON public.referrals USING btree (external_id);


--
-- Name: security_groups_name_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX security_groups_name_key ON public.security_groups USING btree (name);


--
-- Name: session_user_id_revoked_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX session_user_id_revoked_at ON public.sessions USING btree (user_id, revoked_at);


--
-- Name: user_name; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX user_name ON public.users USING btree (name);


--
-- Name: user_tokens_token_hash_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX user_tokens_token_hash_key ON public.user_tokens USING btree (token_hash);


--
-- Name: users_email_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX users_email_key ON public.users USING btree (email);


--
-- Name: users_external_id_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX users_external_id_key ON public.users USING btree (external_id);


--
-- Name: usertoken_user_id_purpose; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX usertoken_user_id_purpose ON public.user_tokens USING btree (user_id, purpose);


--
-- Name: access_log_entries access_log_entries_channels_channel; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.access_log_entries
    ADD CONSTRAINT access_log_entries_channels_channel FOREIGN KEY (channel_id) REFERENCES public.channels(id) ON DELETE SET NULL;


--
-- Name: access_log_entries access_log_entries_patients_patient; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.access_log_entries
    ADD CONSTRAINT access_log_entries_patients_patient FOREIGN KEY (patient_id) REFERENCES public.patients(id) ON DELETE SET NULL;


--
-- Name: access_log_entries access_log_entries_users_actor; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.access_log_entries
    ADD CONSTRAINT access_log_entries_users_actor FOREIGN KEY (actor_id) REFERENCES public.users(id);


--
-- Name: access_log_entries access_log_entries_users_subject_user; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.access_log_entries
    ADD CONSTRAINT access_log_entries_users_subject_user FOREIGN KEY (subject_user_id) REFERENCES public.users(id) ON DELETE SET NULL;


--
-- Name: api_keys api_keys_users_api_keys; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_users_api_keys FOREIGN KEY (user_id) REFERENCES public.users(id);


--
-- Name: booking_status_changes booking_status_changes_bookings_status_changes; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.booking_status_changes
    ADD CONSTRAINT booking_status_changes_bookings_status_changes FOREIGN KEY (booking_id) REFERENCES public.bookings(id);


--
-- Name: booking_status_changes booking_status_changes_users_changed_by; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.booking_status_changes
    ADD CONSTRAINT booking_status_changes_users_changed_by FOREIGN KEY (changed_by_id) REFERENCES public.users(id) ON DELETE SET NULL;


--
-- Name: bookings bookings_booking_types_booking_type; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bookings
    ADD CONSTRAINT bookings_booking_types_booking_type FOREIGN KEY (booking_type_id) REFERENCES public.booking_types(id) ON DELETE SET NULL;


--
-- Name: bookings bookings_patients_bookings; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bookings
    ADD CONSTRAINT bookings_patients_bookings FOREIGN KEY (patient_id) REFERENCES public.patients(id);


--
-- Name: bookings bookings_users_doctor; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bookings
    ADD CONSTRAINT bookings_users_doctor FOREIGN KEY (doctor_id) REFERENCES public.users(id);


--
-- Name: channel_custom_channels channel_custom_channels_channel_id; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.channel_custom_channels
    ADD CONSTRAINT channel_custom_channels_channel_id FOREIGN KEY (channel_id) REFERENCES public.channels(id) ON DELETE CASCADE;


--
-- Name: channel_custom_channels channel_custom_channels_included_in_id; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.channel_custom_channels
    ADD CONSTRAINT channel_custom_channels_included_in_id FOREIGN KEY (included_in_id) REFERENCES public.channels(id) ON DELETE CASCADE;


--
-- Name: channel_custom_groups channel_custom_groups_channel_id; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.channel_custom_groups
    ADD CONSTRAINT channel_custom_groups_channel_id FOREIGN KEY (channel_id) REFERENCES public.channels(id) ON DELETE CASCADE;


--
-- Name: channel_custom_groups channel_custom_groups_security_group_id; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.channel_custom_groups
    ADD CONSTRAINT channel_custom_groups_security_group_id FOREIGN KEY (security_group_id) REFERENCES public.security_groups(id) ON DELETE CASCADE;


--
-- Name: channel_custom_users channel_custom_users_channel_id; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.channel_custom_users
    ADD CONSTRAINT channel_custom_users_channel_id FOREIGN KEY (channel_id) REFERENCES public.channels(id) ON DELETE CASCADE;


--
-- Name: channel_custom_users channel_custom_users_user_id; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.channel_custom_users
    ADD CONSTRAINT channel_custom_users_user_id FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: channel_members channel_members_channels_channel; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.channel_members
    ADD CONSTRAINT channel_members_channels_channel FOREIGN KEY (channel_id) REFERENCES public.channels(id);


--
-- Name: channel_members channel_members_users_user; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.channel_members
    ADD CONSTRAINT channel_members_users_user FOREIGN KEY (user_id) REFERENCES public.users(id);


--
-- Name: channels channels_patients_patient; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.channels
    ADD CONSTRAINT channels_patients_patient FOREIGN KEY (patient_id) REFERENCES public.patients(id) ON DELETE SET NULL;


--
-- Name: channels channels_security_groups_security_group; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.channels
    ADD CONSTRAINT channels_security_groups_security_group FOREIGN KEY (security_group_id) REFERENCES public.security_groups(id) ON DELETE SET NULL;


--
-- Name: enrollment_steps enrollment_steps_enrollments_steps; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.enrollment_steps
    ADD CONSTRAINT enrollment_steps_enrollments_steps FOREIGN KEY (enrollment_id) REFERENCES public.enrollments(id);


--
-- Name: enrollment_steps enrollment_steps_program_actions_action; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.enrollment_steps
    ADD CONSTRAINT enrollment_steps_program_actions_action FOREIGN KEY (action_id) REFERENCES public.program_actions(id);


--
-- Name: enrollments enrollments_patients_patient; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.enrollments
    ADD CONSTRAINT enrollments_patients_patient FOREIGN KEY (patient_id) REFERENCES public.patients(id);


--
-- Name: enrollments enrollments_programs_program; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.enrollments
    ADD CONSTRAINT enrollments_programs_program FOREIGN KEY (program_id) REFERENCES public.programs(id);


--
-- Name: label_messages label_messages_label_id; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.label_messages
    ADD CONSTRAINT label_messages_label_id FOREIGN KEY (label_id) REFERENCES public.labels(id) ON DELETE CASCADE;


--
-- Name: label_messages label_messages_message_id; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.label_messages
    ADD CONSTRAINT label_messages_message_id FOREIGN KEY (message_id) REFERENCES public.messages(id) ON DELETE CASCADE;


--
-- Name: labels labels_users_owner; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.labels
    ADD CONSTRAINT labels_users_owner FOREIGN KEY (owner_id) REFERENCES public.users(id);


--
-- Name: membership_spans membership_spans_channels_channel; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.membership_spans
    ADD CONSTRAINT membership_spans_channels_channel FOREIGN KEY (channel_id) REFERENCES public.channels(id);


--
-- Name: membership_spans membership_spans_users_user; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.membership_spans
    ADD CONSTRAINT membership_spans_users_user FOREIGN KEY (user_id) REFERENCES public.users(id);


--
-- Name: message_patients message_patients_message_id; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message_patients
    ADD CONSTRAINT message_patients_message_id FOREIGN KEY (message_id) REFERENCES public.messages(id) ON DELETE CASCADE;


--
-- Name: message_patients message_patients_patient_id; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message_patients
    ADD CONSTRAINT message_patients_patient_id FOREIGN KEY (patient_id) REFERENCES public.patients(id) ON DELETE CASCADE;


--
-- Name: messages messages_channels_messages; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.messages
    ADD CONSTRAINT messages_channels_messages FOREIGN KEY (channel_id) REFERENCES public.channels(id);


--
-- Name: messages messages_messages_replies; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.messages
    ADD CONSTRAINT messages_messages_replies FOREIGN KEY (reply_to_id) REFERENCES public.messages(id) ON DELETE SET NULL;


--
-- Name: messages messages_patients_sender_patient; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.messages
    ADD CONSTRAINT messages_patients_sender_patient FOREIGN KEY (sender_patient_id) REFERENCES public.patients(id) ON DELETE SET NULL;


--
-- Name: messages messages_users_sender; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.messages
    ADD CONSTRAINT messages_users_sender FOREIGN KEY (sender_id) REFERENCES public.users(id) ON DELETE SET NULL;


--
-- Name: notifications notifications_bookings_booking; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.notifications
    ADD CONSTRAINT notifications_bookings_booking FOREIGN KEY (booking_id) REFERENCES public.bookings(id) ON DELETE SET NULL;


--
-- Name: notifications notifications_patients_patient; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.notifications
    ADD CONSTRAINT notifications_patients_patient FOREIGN KEY (patient_id) REFERENCES public.patients(id) ON DELETE SET NULL;


--
-- Name: notifications notifications_users_from; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.notifications
    ADD CONSTRAINT notifications_users_from FOREIGN KEY (from_id) REFERENCES public.users(id) ON DELETE SET NULL;


--
-- Name: notifications notifications_users_recipient; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.notifications
    ADD CONSTRAINT notifications_users_recipient FOREIGN KEY (recipient_id) REFERENCES public.users(id);


--
-- Name: patient_sessions patient_sessions_patients_patient; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.patient_sessions
    ADD CONSTRAINT patient_sessions_patients_patient FOREIGN KEY (patient_id) REFERENCES public.patients(id);


--
-- Name: program_actions program_actions_programs_actions; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.program_actions
    ADD CONSTRAINT program_actions_programs_actions FOREIGN KEY (program_id) REFERENCES public.programs(id);


--
-- Name: program_actions program_actions_templates_template; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.program_actions
    ADD CONSTRAINT program_actions_templates_template FOREIGN KEY (template_id) REFERENCES public.templates(id) ON DELETE SET NULL;


--
-- Name: program_completing_booking_types program_completing_booking_types_booking_type_id; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.program_completing_booking_types
    ADD CONSTRAINT program_completing_booking_types_booking_type_id FOREIGN KEY (booking_type_id) REFERENCES public.booking_types(id) ON DELETE CASCADE;


--
-- Name: program_completing_booking_types program_completing_booking_types_program_id; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.program_completing_booking_types
    ADD CONSTRAINT program_completing_booking_types_program_id FOREIGN KEY (program_id) REFERENCES public.programs(id) ON DELETE CASCADE;


--
-- Name: referrals referrals_patients_patient; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.referrals
    ADD CONSTRAINT referrals_patients_patient FOREIGN KEY (patient_id) REFERENCES public.patients(id);


--
-- Name: sessions sessions_users_sessions; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sessions
    ADD CONSTRAINT sessions_users_sessions FOREIGN KEY (user_id) REFERENCES public.users(id);


--
-- Name: user_security_groups user_security_groups_security_group_id; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_security_groups
    ADD CONSTRAINT user_security_groups_security_group_id FOREIGN KEY (security_group_id) REFERENCES public.security_groups(id) ON DELETE CASCADE;


--
-- Name: user_security_groups user_security_groups_user_id; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_security_groups
    ADD CONSTRAINT user_security_groups_user_id FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- PostgreSQL database dump complete
--


