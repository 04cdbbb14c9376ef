package main

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/channel"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/oversight"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// The audit scenario seeds AuditMessages messages (and a tenth as many
// notifications) with INSERT … SELECT generate_series and times pages of the audit log — filtered by
// text, sender, recipient, patient, and channel kind with a time range —
// through oversight.Service.Audit (the auditLog resolver's one call, the
// access-log write included), against the equivalent hand-written SQL on
// the same tables: the same filters, page (newest first, first+1 rows of
// each table) and total count. Ours and the baseline alternate per query.

const (
	auditChannels = 200
	auditPatients = 1000
	auditPage     = 50
	auditRepeats  = 10
	auditRareWord = "anaphylaxis"
)

// auditCase is one filtered page, as ours and as hand-written SQL.
type auditCase struct {
	name   string
	filter oversight.AuditFilter
	// where is the baseline's messages and notifications conditions, with
	// the arguments they take.
	msgWhere, noteWhere string
	args                []any
	notes               bool
}

func runAudit(ctx context.Context, srv *server, o Options) (Result, error) {
	sctx := viewer.NewSystemContext(ctx, "bench")
	c := srv.db.Client
	users := make([]pulid.ID, 0, 5)
	for _, email := range []string{demo.ChenEmail, demo.PatelEmail, demo.KimEmail, demo.ReceptionEmail, demo.AdminEmail} {
		id, err := srv.user(email)
		if err != nil {
			return Result{}, err
		}
		users = append(users, id)
	}
	adminID := users[4]
	seedStart := time.Now()
	seed, err := seedAudit(ctx, sctx, srv.db.SQL, c, users, o.AuditMessages)
	if err != nil {
		return Result{}, fmt.Errorf("seeding: %w", err)
	}
	logf("audit: seeded %d messages and %d notifications in %v", o.AuditMessages, o.AuditMessages/10, time.Since(seedStart).Round(time.Millisecond))

	kim, pat := users[2], seed.patient
	day := seed.start.Add(seed.span / 2)
	dayEnd := day.Add(24 * time.Hour)
	cases := []auditCase{
		{name: "text", filter: oversight.AuditFilter{Text: auditRareWord},
			msgWhere: "m.body ILIKE $1", noteWhere: "(n.title ILIKE $1 OR n.body ILIKE $1)",
			args: []any{"%" + auditRareWord + "%"}, notes: true},
		{name: "sender", filter: oversight.AuditFilter{SenderID: &kim},
			msgWhere: "m.sender_id = $1", noteWhere: "n.from_id = $1", args: []any{string(kim)}, notes: true},
		{name: "recipient", filter: oversight.AuditFilter{RecipientID: &kim},
			msgWhere: `EXISTS (SELECT 1 FROM membership_spans s WHERE s.channel_id = m.channel_id AND s.user_id = $1
			             AND s.joined_seq < m.seq AND (s.left_seq IS NULL OR s.left_seq >= m.seq))
			           AND (m.sender_id IS NULL OR m.sender_id <> $1)`,
			noteWhere: "n.recipient_id = $1", args: []any{string(kim)}, notes: true},
		{name: "patient", filter: oversight.AuditFilter{PatientID: &pat},
			msgWhere: `m.id IN (SELECT mp.message_id FROM message_patients mp WHERE mp.patient_id = $1
			           UNION ALL SELECT m2.id FROM messages m2 JOIN channels ch ON ch.id = m2.channel_id WHERE ch.patient_id = $1)`,
			noteWhere: "n.patient_id = $1", args: []any{string(pat)}, notes: true},
		{name: "kind+time", filter: oversight.AuditFilter{ChannelKinds: []channel.Kind{channel.KindGROUP}, From: &day, To: &dayEnd},
			msgWhere: "m.channel_id IN (SELECT ch.id FROM channels ch WHERE ch.kind = 'GROUP') AND m.created_at >= $1 AND m.created_at < $2",
			args:     []any{day, dayEnd}},
	}

	svc := srv.app.Oversight
	actx := viewer.NewContext(ctx, &viewer.Viewer{Kind: viewer.Staff, UserID: adminID,
		Perms: map[viewer.Permission]bool{viewer.WhisperAdmin: true, viewer.AccessWhisper: true}})
	// Warm both paths once (plans, caches).
	for _, tc := range cases {
		if _, err := svc.Audit(actx, tc.filter, auditPage, nil); err != nil {
			return Result{}, fmt.Errorf("%s: %w", tc.name, err)
		}
		if _, err := baselineAudit(ctx, srv.db.SQL, tc); err != nil {
			return Result{}, fmt.Errorf("%s baseline: %w", tc.name, err)
		}
	}
	stop, err := profile(o, "audit")
	if err != nil {
		return Result{}, err
	}
	defer stop()
	var oursAll, baseAll []time.Duration
	for _, tc := range cases {
		var ours, base []time.Duration
		var oursN, baseN int
		for i := 0; i < auditRepeats; i++ {
			t0 := time.Now()
			conn, err := svc.Audit(actx, tc.filter, auditPage, nil)
			if err != nil {
				return Result{}, fmt.Errorf("%s: %w", tc.name, err)
			}
			ours = append(ours, time.Since(t0))
			oursN = conn.TotalCount
			t0 = time.Now()
			if baseN, err = baselineAudit(ctx, srv.db.SQL, tc); err != nil {
				return Result{}, fmt.Errorf("%s baseline: %w", tc.name, err)
			}
			base = append(base, time.Since(t0))
		}
		var pageOnly []time.Duration
		skip := tc.filter
		skip.SkipTotal = true
		for i := 0; i < auditRepeats; i++ {
			t0 := time.Now()
			if _, err := svc.Audit(actx, skip, auditPage, nil); err != nil {
				return Result{}, fmt.Errorf("%s: %w", tc.name, err)
			}
			pageOnly = append(pageOnly, time.Since(t0))
		}
		if oursN != baseN {
			return Result{}, fmt.Errorf("%s: ours counted %d entries, the baseline %d", tc.name, oursN, baseN)
		}
		oursAll, baseAll = append(oursAll, ours...), append(baseAll, base...)
		logf("audit: %-9s %7d entries  ours p50 %7.2f ms  baseline p50 %7.2f ms  (ours without totalCount p50 %7.2f ms)",
			tc.name, oursN, percentile(ours, 50), percentile(base, 50), percentile(pageOnly, 50))
	}
	stop()
	r := Result{Name: "audit"}
	r.P50, r.P99 = percentile(oursAll, 50), percentile(oursAll, 99)
	r.BaselineP50, r.BaselineP99 = percentile(baseAll, 50), percentile(baseAll, 99)
	r.Ours = float64(len(oursAll)) / sum(oursAll).Seconds()
	r.Baseline = float64(len(baseAll)) / sum(baseAll).Seconds()
	r.Ratio = ratio(r.Ours, r.Baseline)
	return r, nil
}

func sum(ds []time.Duration) time.Duration {
	var t time.Duration
	for _, d := range ds {
		t += d
	}
	return t
}

// baselineAudit is one audit page in hand-written SQL: the count of both
// tables and the newest first+1 rows of each, with their senders, channels
// and patients, and the recipients of the messages on the page.
func baselineAudit(ctx context.Context, db *sql.DB, tc auditCase) (int, error) {
	var total int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM messages m WHERE `+tc.msgWhere, tc.args...).Scan(&total); err != nil {
		return 0, err
	}
	if tc.notes {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM notifications n WHERE `+tc.noteWhere, tc.args...).Scan(&n); err != nil {
			return 0, err
		}
		total += n
	}
	rows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT m.id, m.channel_id, m.seq, m.body, m.created_at, u.name, ch.kind,
		  (SELECT string_agg(p.patient_number, ',') FROM message_patients mp JOIN patients p ON p.id = mp.patient_id WHERE mp.message_id = m.id)
		FROM messages m LEFT JOIN users u ON u.id = m.sender_id JOIN channels ch ON ch.id = m.channel_id
		WHERE %s ORDER BY m.created_at DESC, m.id DESC LIMIT %d`, tc.msgWhere, auditPage+1), tc.args...)
	if err != nil {
		return 0, err
	}
	var chans []string
	for rows.Next() {
		var id, ch, body, kind string
		var seq int64
		var at time.Time
		var sender, pats sql.NullString
		if err := rows.Scan(&id, &ch, &seq, &body, &at, &sender, &kind, &pats); err != nil {
			rows.Close()
			return 0, err
		}
		chans = append(chans, ch)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if len(chans) > 0 {
		rows, err := db.QueryContext(ctx, `SELECT s.channel_id, s.joined_seq, s.left_seq, u.name FROM membership_spans s JOIN users u ON u.id = s.user_id
			WHERE s.channel_id = ANY($1)`, pq.Array(chans))
		if err != nil {
			return 0, err
		}
		for rows.Next() {
			var ch, name string
			var joined int64
			var left sql.NullInt64
			if err := rows.Scan(&ch, &joined, &left, &name); err != nil {
				rows.Close()
				return 0, err
			}
		}
		rows.Close()
	}
	if tc.notes {
		rows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT n.id, n.title, n.body, n.created_at, f.name, r.name, p.patient_number
			FROM notifications n LEFT JOIN users f ON f.id = n.from_id JOIN users r ON r.id = n.recipient_id LEFT JOIN patients p ON p.id = n.patient_id
			WHERE %s ORDER BY n.created_at DESC, n.id DESC LIMIT %d`, tc.noteWhere, auditPage+1), tc.args...)
		if err != nil {
			return 0, err
		}
		for rows.Next() {
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, err
		}
	}
	return total, nil
}

// auditSeed is what the measured filters refer to.
type auditSeed struct {
	patient pulid.ID
	start   time.Time
	span    time.Duration
}

// seedAudit writes channels (with members, through ent so the membership
// history is kept) and patients, then has the database generate the
// messages, message–patient links and notifications in three statements.
// The trigram index is rebuilt after the load rather than maintained row by
// row.
func seedAudit(ctx, sctx context.Context, db *sql.DB, c *ent.Client, users []pulid.ID, messages int) (auditSeed, error) {
	kinds := []channel.Kind{channel.KindGROUP, channel.KindINDIVIDUAL, channel.KindCUSTOM_GROUP}
	type ch struct {
		id      pulid.ID
		members []pulid.ID
		seq     int64
	}
	chans := make([]*ch, auditChannels)
	for i := range chans {
		k := kinds[i%len(kinds)]
		created, err := c.Channel.Create().SetKind(k).SetName(fmt.Sprintf("bench %d", i)).Save(sctx)
		if err != nil {
			return auditSeed{}, err
		}
		x := &ch{id: created.ID}
		for j, u := range users {
			if (i+j)%3 != 0 || len(x.members) < 2 {
				if err := c.ChannelMember.Create().SetChannelID(created.ID).SetUserID(u).Exec(sctx); err != nil {
					return auditSeed{}, err
				}
				x.members = append(x.members, u)
			}
		}
		chans[i] = x
	}
	pats := make([]*ent.PatientCreate, auditPatients)
	for i := range pats {
		pats[i] = c.Patient.Create().SetPatientNumber(fmt.Sprintf("A%06d", i)).SetFirstName("Pat").SetLastName(fmt.Sprint(i))
	}
	ps, err := c.Patient.CreateBulk(pats...).Save(sctx)
	if err != nil {
		return auditSeed{}, err
	}
	seed := auditSeed{patient: ps[0].ID, span: 365 * 24 * time.Hour}
	seed.start = time.Now().UTC().Add(-seed.span)
	chanIDs := make([]string, len(chans))
	for i, x := range chans {
		chanIDs[i] = string(x.id)
	}
	patIDs := make([]string, len(ps))
	for i, p := range ps {
		patIDs[i] = string(p.ID)
	}
	userIDs := make([]string, len(users))
	for i, u := range users {
		userIDs[i] = string(u)
	}
	// Messages are generated by the database itself: message g is in
	// channel g mod auditChannels at position g / auditChannels + 1, sent by
	// one of that channel's members, one step of the year apart, with a
	// short body (short, so the trigram index builds in seconds); one in a
	// thousand carries the rare word, one in a hundred links a patient (one
	// in five thousand the measured patient); a tenth as many notifications
	// to and from the demo users, one in ten about a patient.
	step := seed.span / time.Duration(messages)
	nstep := seed.span / time.Duration(messages/10+1)
	steps := []string{
		`SET maintenance_work_mem = '256MB'`,
		`CREATE TEMP TABLE bench_channels (n int PRIMARY KEY, id text, members text[])`,
	}
	// One connection, so the temporary table and the settings hold.
	conn, err := db.Conn(ctx)
	if err != nil {
		return seed, err
	}
	defer conn.Close()
	for _, stmt := range steps {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return seed, err
		}
	}
	for i, x := range chans {
		members := make([]string, len(x.members))
		for j, m := range x.members {
			members[j] = string(m)
		}
		if _, err := conn.ExecContext(ctx, `INSERT INTO bench_channels VALUES ($1, $2, $3)`, i, string(x.id), pq.Array(members)); err != nil {
			return seed, err
		}
	}
	const words = `ARRAY['bloods','results','referral','follow-up','prescription','roster','booking','call back','scan','dressing']`
	loads := []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO messages (id, channel_id, seq, kind, sender_id, body, sms, created_at, txid)
		  SELECT 'ms' || lpad(g::text, 26, '0'), c.id, g / $2 + 1, 'USER',
		         c.members[1 + (g / 7) % cardinality(c.members)],
		         (` + words + `)[1 + g % 10] || ' ' || (g % 1000) ||
		           CASE WHEN g % 1000 = 0 THEN ' ` + auditRareWord + `' ELSE '' END,
		         false, $3::timestamptz + g * ($4 || ' microseconds')::interval, 0
		  FROM generate_series(0, $1 - 1) g JOIN bench_channels c ON c.n = g % $2`,
			[]any{messages, auditChannels, seed.start, step.Microseconds()}},
		{`INSERT INTO message_patients (message_id, patient_id)
		  SELECT 'ms' || lpad(g::text, 26, '0'), CASE WHEN g % 5000 = 0 THEN $2 ELSE ($3::text[])[1 + (g / 100) % cardinality($3::text[])] END
		  FROM generate_series(0, $1 - 1, 100) g`,
			[]any{messages, string(seed.patient), pq.Array(patIDs)}},
		{`UPDATE channels ch SET last_seq = x.n, message_count = x.n
		  FROM (SELECT c.id, (($1 - 1 - c.n) / $2 + 1) AS n FROM bench_channels c) x WHERE ch.id = x.id`,
			[]any{messages, auditChannels}},
		{`INSERT INTO notifications (id, kind, recipient_id, title, body, patient_id, from_id, deliver_at, announced_at, created_at)
		  SELECT 'nt' || lpad(g::text, 26, '0'),
		         (ARRAY['LAB_REPORT','ERX','SCHEDULE','ANNOUNCEMENT','COMPLIANCE'])[1 + g % 5],
		         ($3::text[])[1 + g % cardinality($3::text[])],
		         (` + words + `)[1 + g % 10] || ' ready' || CASE WHEN g % 1000 = 0 THEN ' ` + auditRareWord + `' ELSE '' END,
		         'details',
		         CASE WHEN g % 500 = 0 THEN $2 WHEN g % 10 = 0 THEN ($4::text[])[1 + (g / 10) % cardinality($4::text[])] END,
		         ($3::text[])[1 + (g / 3) % cardinality($3::text[])],
		         t, t, t
		  FROM generate_series(0, $1 / 10 - 1) g, LATERAL (SELECT $5::timestamptz + g * ($6 || ' microseconds')::interval AS t) at`,
			[]any{messages, string(seed.patient), pq.Array(userIDs), pq.Array(patIDs), seed.start, nstep.Microseconds()}},
	}
	// Secondary indexes and foreign keys of messages and notifications are
	// dropped for the load and rebuilt after it: one pass each instead of a million
	// incremental updates.
	var rebuild []string
	rows, err := conn.QueryContext(ctx, `
		SELECT 'DROP INDEX ' || quote_ident(i.indexrelid::regclass::text), pg_get_indexdef(i.indexrelid)
		  FROM pg_index i WHERE i.indrelid IN ('messages'::regclass, 'notifications'::regclass) AND NOT i.indisprimary
		   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
		UNION ALL
		SELECT 'ALTER TABLE ' || conrelid::regclass::text || ' DROP CONSTRAINT ' || quote_ident(conname),
		       'ALTER TABLE ' || conrelid::regclass::text || ' ADD CONSTRAINT ' || quote_ident(conname) || ' ' || pg_get_constraintdef(oid)
		  FROM pg_constraint WHERE conrelid IN ('messages'::regclass, 'notifications'::regclass) AND contype = 'f'`)
	if err != nil {
		return seed, err
	}
	var drops []string
	for rows.Next() {
		var drop, create string
		if err := rows.Scan(&drop, &create); err != nil {
			rows.Close()
			return seed, err
		}
		drops, rebuild = append(drops, drop), append(rebuild, create)
	}
	rows.Close()
	for _, stmt := range drops {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return seed, err
		}
	}
	for i, l := range loads {
		t0 := time.Now()
		if _, err := conn.ExecContext(ctx, l.sql, l.args...); err != nil {
			return seed, err
		}
		logf("audit: load step %d in %v", i+1, time.Since(t0).Round(time.Millisecond))
	}
	t0 := time.Now()
	for _, stmt := range rebuild {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return seed, fmt.Errorf("rebuilding %q: %w", stmt, err)
		}
	}
	logf("audit: rebuilt %d indexes and foreign keys in %v", len(rebuild), time.Since(t0).Round(time.Millisecond))
	for _, stmt := range []string{
		`CREATE INDEX IF NOT EXISTS messages_body_trgm ON messages USING gin (body gin_trgm_ops)`,
		`ANALYZE`,
	} {
		t0 := time.Now()
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return seed, err
		}
		logf("audit: %s in %v", strings.Fields(stmt)[0], time.Since(t0).Round(time.Millisecond))
	}
	return seed, nil
}
