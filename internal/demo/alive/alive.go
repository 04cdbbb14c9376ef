// Package alive makes the demo practice look lived in (SPEC §15): staff
// conversations with history and unread messages for every demo user,
// notifications of several kinds, patient conversations in which the portal
// patients take part, and Patient Connect enrolments in progress.
//
// Everything is written through the services a user's request goes through
// (the messenger, notifications, the Patient Connect engine), acting as the
// demo users themselves, so read marks, counters and memberships are what
// they would be after real use. Times are spread over the two days before
// the given now, on a clock the seeding steps forward itself: the result is
// deterministic for a given now and takes no real time.
package alive

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/enrollment"
	"github.com/whisper-health/whisper/ent/notification"
	"github.com/whisper-health/whisper/ent/patient"
	"github.com/whisper-health/whisper/ent/program"
	"github.com/whisper-health/whisper/ent/securitygroup"
	"github.com/whisper-health/whisper/ent/user"
	"github.com/whisper-health/whisper/internal/auth"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/messenger"
	"github.com/whisper-health/whisper/internal/notify"
	"github.com/whisper-health/whisper/internal/outreach"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/store"
	"github.com/whisper-health/whisper/internal/viewer"
)

// clock is the seeding's own clock: every write happens at the time it was
// last set to.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

// seeder holds the services and the demo's people while seeding.
type seeder struct {
	ctx    context.Context
	clk    *clock
	start  time.Time // two days before now
	msgr   *messenger.Service
	notify *notify.Service
	engine *outreach.Engine
	users  map[string]*ent.User // by email
	groups map[string]pulid.ID  // security groups by name
	pats   map[string]*ent.Patient
	client *ent.Client
}

// Seed fills the freshly loaded demo practice (demo.Load) with activity,
// ending at now. It is meant for a database demo.Load has just filled: on
// one already in use it would add a second round of the same activity.
func Seed(ctx context.Context, db *store.DB, bus pubsub.Bus, log *slog.Logger, now time.Time) error {
	now = now.UTC()
	clk := &clock{t: now}
	msgr := messenger.New(db.Client, bus, log, messenger.Config{Dialect: db.Dialect, Now: clk.Now})
	s := &seeder{
		ctx:    ctx,
		clk:    clk,
		start:  now.Add(-48 * time.Hour),
		msgr:   msgr,
		notify: notify.New(db.Client, bus, msgr, log, clk.Now),
		engine: outreach.NewEngine(db.Client, log, outreach.EngineConfig{Dialect: db.Dialect, Now: clk.Now}),
		users:  map[string]*ent.User{},
		groups: map[string]pulid.ID{},
		pats:   map[string]*ent.Patient{},
		client: db.Client,
	}
	if err := s.load(); err != nil {
		return err
	}
	for _, step := range []func() error{s.conversations, s.patientConversations, s.notifications, s.enrolments} {
		if err := step(); err != nil {
			return err
		}
	}
	clk.t = now
	return backdate(ctx, db)
}

// backdate gives the seeded conversations and notifications the creation
// times of the moments they were seeded at: ent stamps created_at with the
// wall clock, not the seeding's. A conversation was created with its first
// message; a notification when it was delivered.
func backdate(ctx context.Context, db *store.DB) error {
	for _, stmt := range []string{
		`UPDATE notifications SET created_at = deliver_at WHERE deliver_at < created_at`,
		`UPDATE channels SET created_at = (SELECT MIN(m.created_at) FROM messages m WHERE m.channel_id = channels.id)
		 WHERE EXISTS (SELECT 1 FROM messages m WHERE m.channel_id = channels.id AND m.created_at < channels.created_at)`,
	} {
		if _, err := db.SQL.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("demo: dating the seeded activity: %w", err)
		}
	}
	return nil
}

// at sets the clock to the given time after the start of the two days.
func (s *seeder) at(d time.Duration) { s.clk.t = s.start.Add(d) }

func (s *seeder) load() error {
	sctx := viewer.NewSystemContext(s.ctx, "demo: bring the practice to life")
	users, err := s.client.User.Query().WithSecurityGroups().All(sctx)
	if err != nil {
		return fmt.Errorf("loading demo users: %w", err)
	}
	for _, u := range users {
		s.users[u.Email] = u
	}
	for _, e := range []string{demo.AdminEmail, demo.ChenEmail, demo.PatelEmail, demo.KimEmail, demo.ReceptionEmail, integrationEmail} {
		if s.users[e] == nil {
			return fmt.Errorf("the demo practice has no %s: load it first", e)
		}
	}
	groups, err := s.client.SecurityGroup.Query().Select(securitygroup.FieldID, securitygroup.FieldName).All(sctx)
	if err != nil {
		return fmt.Errorf("loading demo groups: %w", err)
	}
	for _, g := range groups {
		s.groups[g.Name] = g.ID
	}
	pats, err := s.client.Patient.Query().Order(ent.Asc(patient.FieldPatientNumber)).All(sctx)
	if err != nil {
		return fmt.Errorf("loading demo patients: %w", err)
	}
	for _, p := range pats {
		s.pats[p.PatientNumber] = p
	}
	return nil
}

// integrationEmail is the demo integration service account's address.
const integrationEmail = "integration@demo.clinic"

// as is the context of a demo user's own request.
func (s *seeder) as(email string) context.Context {
	u := s.users[email]
	kind := viewer.Staff
	if u.Kind == user.KindSERVICE {
		kind = viewer.Service
	}
	return viewer.NewContext(s.ctx, &viewer.Viewer{Kind: kind, UserID: u.ID, Perms: auth.EffectivePermissions(u)})
}

// asPatient is the context of a portal patient's own request.
func (s *seeder) asPatient(number string) context.Context {
	return viewer.NewContext(s.ctx, &viewer.Viewer{Kind: viewer.Patient, PatientID: s.pats[number].ID})
}

// line is one message of a conversation: who writes it, when (after the
// start of the two days) and what.
type line struct {
	from string
	at   time.Duration
	body string
}

// talk posts the lines in order, each at its time. Whoever writes has read
// the conversation up to their message; the others have read nothing since
// their own last message, so the later lines stay unread for them.
func (s *seeder) talk(channelID pulid.ID, lines []line) error {
	for _, l := range lines {
		s.at(l.at)
		if _, err := s.msgr.MarkRead(s.as(l.from), channelID); err != nil {
			return fmt.Errorf("demo: %s reads before writing: %w", l.from, err)
		}
		if _, err := s.msgr.Send(s.as(l.from), messenger.SendInput{ChannelID: channelID, Body: l.body}); err != nil {
			return fmt.Errorf("demo: %s writes: %w", l.from, err)
		}
	}
	return nil
}

func (s *seeder) open(by string, in messenger.OpenInput) (pulid.ID, error) {
	ch, err := s.msgr.Open(s.as(by), in)
	if err != nil {
		return "", fmt.Errorf("demo: %s opens a conversation: %w", by, err)
	}
	return ch.ID, nil
}

const (
	hour   = time.Hour
	minute = time.Minute
)

// conversations: every demo user ends with history and at least one unread
// conversation.
func (s *seeder) conversations() error {
	admin, chen, patel, kim, desk := demo.AdminEmail, demo.ChenEmail, demo.PatelEmail, demo.KimEmail, demo.ReceptionEmail
	id := func(email string) pulid.ID { return s.users[email].ID }

	everyone, err := s.open(admin, messenger.OpenInput{SecurityGroupIDs: []pulid.ID{s.groups["Default"]}})
	if err != nil {
		return err
	}
	if err := s.talk(everyone, []line{
		{admin, 2 * hour, "Good morning all. The fire drill is on Thursday at 12:30; please make sure patients in the waiting room are guided out first."},
		{kim, 2*hour + 20*minute, "Noted. I'll bring the sharps bins in from the treatment room before then."},
		{admin, 27 * hour, "Reminder: flu vaccine stock arrives tomorrow morning. Nurses, please check the fridge log when it does."},
	}); err != nil {
		return err
	}

	doctors, err := s.open(chen, messenger.OpenInput{SecurityGroupIDs: []pulid.ID{s.groups["Doctors"]}})
	if err != nil {
		return err
	}
	if err := s.talk(doctors, []line{
		{chen, 4 * hour, "Priya, could you cover my 4 pm list on Friday? I have the hospital liaison meeting."},
		{patel, 5 * hour, "Yes, happy to. Send me anything I should know about the recall reviews."},
		{chen, 40 * hour, "Thanks again. Two of the Friday patients are due for their annual check; the notes are up to date."},
	}); err != nil {
		return err
	}

	if err := s.pair(kim, chen, []line{
		{kim, 6 * hour, "Dr Chen, Mr Smith's INR came back at 3.4. Do you want to adjust his warfarin today?"},
		{chen, 6*hour + 15*minute, "Yes: drop to 4 mg and recheck in a week. I'll update the plan."},
		{kim, 44 * hour, "Mrs Brown's dressing is healing well. Photos are in her file when you have a moment."},
		{kim, 44*hour + 5*minute, "Also, the spirometer is back from calibration."},
	}); err != nil {
		return err
	}
	if err := s.pair(desk, patel, []line{
		{desk, 8 * hour, "Dr Patel, Mr Taylor asked whether his repeat script is ready for pick-up."},
		{patel, 9 * hour, "It is, at the front desk. Thanks Sam."},
		{desk, 45 * hour, "Your 10:30 is running 15 minutes late; they called from the car park."},
	}); err != nil {
		return err
	}
	if err := s.pair(patel, admin, []line{
		{patel, 30 * hour, "Alex, the ECG machine in room 3 is showing a lead fault again. Can we get it serviced this week?"},
		{admin, 31 * hour, "I'll call the technician. Do you need the spare in the meantime?"},
		{patel, 46 * hour, "Yes please, the spare would help for tomorrow's clinic."},
	}); err != nil {
		return err
	}

	front, err := s.open(admin, messenger.OpenInput{UserIDs: []pulid.ID{id(kim), id(desk)}, Name: ptr("Front desk & rota")})
	if err != nil {
		return err
	}
	return s.talk(front, []line{
		{admin, 10 * hour, "Next week's rota is on the board. Sam, you're on the early shift Monday and Tuesday."},
		{desk, 11 * hour, "Got it, thanks."},
		{admin, 47 * hour, "Jordan, can you cover reception for 20 minutes at 1 pm tomorrow while Sam is at lunch?"},
	})
}

// pair opens the individual conversation of two users and posts the lines.
func (s *seeder) pair(a, b string, lines []line) error {
	ch, err := s.open(a, messenger.OpenInput{UserIDs: []pulid.ID{s.users[b].ID}})
	if err != nil {
		return err
	}
	return s.talk(ch, lines)
}

// patientConversations: a conversation with each portal patient, in which
// they take part (the last word is theirs, so no nudge is owed), and a staff
// conversation about a patient without portal access.
func (s *seeder) patientConversations() error {
	olivia, liam, noah := "P0001", "P0002", "P0004"

	s.at(12 * hour)
	ch, err := s.msgr.StartPatientConversation(s.as(demo.ChenEmail), messenger.StartPatientInput{
		PatientID: s.pats[olivia].ID,
		Topic:     "Blood test results",
		Body:      "Hi Olivia, your blood test results are back and everything is in the normal range. Your iron is a little low; I'd suggest an iron-rich diet and we'll recheck in three months.",
	})
	if err != nil {
		return fmt.Errorf("demo: starting a patient conversation: %w", err)
	}
	s.at(14 * hour)
	if _, err := s.msgr.MarkRead(s.asPatient(olivia), ch.ID); err != nil {
		return fmt.Errorf("demo: Olivia reads: %w", err)
	}
	if _, err := s.msgr.Send(s.asPatient(olivia), messenger.SendInput{ChannelID: ch.ID, Body: "Thank you Dr Chen! Should I book the recheck now or closer to the time?"}); err != nil {
		return fmt.Errorf("demo: Olivia replies: %w", err)
	}

	s.at(36 * hour)
	if _, err := s.msgr.StartPatientConversation(s.asPatient(liam), messenger.StartPatientInput{
		Topic: "Repeat prescription",
		Body:  "Hello, I'm running low on my blood pressure tablets. Could Dr Patel renew the prescription? I can pick it up on Friday.",
	}); err != nil {
		return fmt.Errorf("demo: Liam starts a conversation: %w", err)
	}

	s.at(20 * hour)
	staff, err := s.msgr.StartPatientConversation(s.as(demo.KimEmail), messenger.StartPatientInput{
		PatientID: s.pats[noah].ID,
		Topic:     "Wound dressing follow-up",
		Body:      "Noah Smith's leg wound: dressing changed today, mild redness around the edge. Booked a review for Monday.",
	})
	if err != nil {
		return fmt.Errorf("demo: starting a staff patient conversation: %w", err)
	}
	return s.talk(staff.ID, []line{
		{demo.ChenEmail, 21 * hour, "Thanks Jordan. If the redness spreads before Monday, please get him in to see me."},
	})
}

// notifications: unacknowledged notifications of several kinds for every
// demo user, from the integration (lab, eRx, schedule, signatures), the
// practice manager (an announcement, a compliance task) and a reminder.
func (s *seeder) notifications() error {
	chen, patel, kim, desk, admin := s.users[demo.ChenEmail].ID, s.users[demo.PatelEmail].ID, s.users[demo.KimEmail].ID, s.users[demo.ReceptionEmail].ID, s.users[demo.AdminEmail].ID
	pid := func(number string) *pulid.ID { id := s.pats[number].ID; return &id }
	due := s.start.Add(72 * hour)
	for _, n := range []struct {
		by    string
		at    time.Duration
		in    notify.CreateInput
		title string
	}{
		{integrationEmail, 7 * hour, notify.CreateInput{Kind: notification.KindLAB_REPORT, UserIDs: []pulid.ID{chen}, PatientID: pid("P0001"), Body: ptr("Full blood count and iron studies: ferritin 18 ug/L (low).")}, "Lab report: Olivia Brown"},
		{integrationEmail, 26 * hour, notify.CreateInput{Kind: notification.KindLAB_REPORT, UserIDs: []pulid.ID{patel}, PatientID: pid("P0006"), Body: ptr("Lipid panel: LDL 3.9 mmol/L.")}, "Lab report: Oliver Taylor"},
		{integrationEmail, 29 * hour, notify.CreateInput{Kind: notification.KindERX, UserIDs: []pulid.ID{patel}, PatientID: pid("P0002"), Body: ptr("Repeat prescription requested: amlodipine 5 mg.")}, "eRx: repeat requested for Liam Wilson"},
		{integrationEmail, 32 * hour, notify.CreateInput{Kind: notification.KindSIGNATURE_REQUEST, UserIDs: []pulid.ID{chen}, PatientID: pid("P0003"), DueAt: &due}, "Referral letter awaiting signature: Charlotte Nguyen"},
		{integrationEmail, 38 * hour, notify.CreateInput{Kind: notification.KindSCHEDULE, UserIDs: []pulid.ID{desk, kim}, Body: ptr("Dr Patel's Friday afternoon list now starts at 14:00.")}, "Schedule change: Friday afternoon"},
		{demo.AdminEmail, 39 * hour, notify.CreateInput{Kind: notification.KindANNOUNCEMENT, SecurityGroupIDs: []pulid.ID{s.groups["Default"]}, Body: ptr("The practice closes at 13:00 on Friday for staff training.")}, "Early close on Friday"},
		{demo.AdminEmail, 40 * hour, notify.CreateInput{Kind: notification.KindCOMPLIANCE, UserIDs: []pulid.ID{admin, kim}, DueAt: &due}, "Vaccine fridge temperature log: weekly check due"},
		{demo.KimEmail, 41 * hour, notify.CreateInput{Kind: notification.KindREMINDER}, "Order more dressing packs"},
	} {
		s.at(n.at)
		n.in.Title = n.title
		if _, err := s.notify.Create(s.as(n.by), n.in); err != nil {
			return fmt.Errorf("demo: notification %q: %w", n.title, err)
		}
	}
	return nil
}

// enrolments: patients part-way through the Recall program (their SMS and
// letter are still ahead), one of them paused by the practice.
func (s *seeder) enrolments() error {
	ctx := s.as(demo.AdminEmail)
	prog, err := s.client.Program.Query().Where(program.Name(demo.RecallProgramName)).Only(ctx)
	if err != nil {
		return fmt.Errorf("demo: the recall program: %w", err)
	}
	for i, e := range []struct {
		patient string
		days    int
	}{{"P0003", 21}, {"P0006", 28}, {"P0008", 45}, {"P0010", 60}} {
		s.at(time.Duration(13+i) * hour)
		ref := s.start.Add(48*hour + time.Duration(e.days)*24*hour)
		en, err := s.engine.Enroll(ctx, outreach.EnrollInput{ProgramID: prog.ID, PatientID: s.pats[e.patient].ID, ReferenceDate: &ref})
		if err != nil {
			return fmt.Errorf("demo: enrolling %s: %w", e.patient, err)
		}
		if e.patient == "P0010" {
			s.at(42 * hour)
			if en, err = s.engine.Pause(ctx, en.ID); err != nil {
				return fmt.Errorf("demo: pausing an enrolment: %w", err)
			}
			if en.Status != enrollment.StatusPAUSED {
				return fmt.Errorf("demo: the paused enrolment is %s", en.Status)
			}
		}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
