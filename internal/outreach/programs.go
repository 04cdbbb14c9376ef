package outreach

import (
	"context"
	"github.com/whisper-health/whisper/internal/rule"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/bookingtype"
	"github.com/whisper-health/whisper/ent/enrollmentstep"
	"github.com/whisper-health/whisper/ent/program"
	"github.com/whisper-health/whisper/ent/programaction"
	"github.com/whisper-health/whisper/ent/template"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/txn"
)

// Service configures Patient Connect (PATIENT_CONNECT_MANAGE, by policy).
type Service struct {
	client *ent.Client
	tx     *txn.Runner
}

// New returns the outreach service.
func New(client *ent.Client, log *slog.Logger) *Service {
	return &Service{client: client, tx: txn.New(client, nil, log)}
}

// Frequency is how far apart cycles are.
type Frequency struct {
	Every int
	Unit  programaction.Unit
}

// ProgramInput is a program to create.
type ProgramInput struct {
	Name           string
	Type           program.Type
	Cycles         *int
	Frequency      *Frequency
	Completion     *program.Completion
	BookingTypeIDs []pulid.ID
}

// CreateProgram creates a program, disabled until it has an action. The
// rules of SPEC §6 are checked here and nothing is written when one fails.
func (s *Service) CreateProgram(ctx context.Context, in ProgramInput) (*ent.Program, error) {
	if _, err := rule.ProgramManager.Check(ctx); err != nil {
		return nil, err
	}
	if err := s.validateProgram(ctx, &in); err != nil {
		return nil, err
	}
	name, cycles, completion, types := strings.TrimSpace(in.Name), *in.Cycles, *in.Completion, pulid.Dedupe(in.BookingTypeIDs)
	create := s.client.Program.Create().
		SetName(name).
		SetType(in.Type).
		SetCycles(cycles).
		SetCompletion(completion).
		AddCompletingBookingTypeIDs(types...)
	if in.Frequency != nil {
		create.SetFrequencyEvery(in.Frequency.Every).SetFrequencyUnit(program.FrequencyUnit(in.Frequency.Unit))
	}
	return create.Save(ctx)
}

// validateProgram applies the rules of SPEC §6 and fills in defaults.
func (s *Service) validateProgram(ctx context.Context, in *ProgramInput) error {
	name := strings.TrimSpace(in.Name)
	if name == "" || utf8.RuneCountInString(name) > 200 {
		return apperr.Invalid("name", "a program name is 1 to 200 characters")
	}
	cycles := 1
	if in.Cycles != nil {
		cycles = *in.Cycles
	}
	single := in.Type == program.TypeBOOKING || in.Type == program.TypeREFERRAL
	switch {
	case cycles < 1 || cycles > 1000:
		return apperr.Invalid("cycles", "cycles must be between 1 and 1000")
	case single && cycles != 1:
		return apperr.Invalid("cycles", "%s programs run a single cycle", strings.ToLower(string(in.Type)))
	case single && in.Frequency != nil:
		return apperr.Invalid("frequency", "%s programs run a single cycle and take no frequency", strings.ToLower(string(in.Type)))
	case cycles > 1 && in.Frequency == nil:
		return apperr.Invalid("frequency", "a program with more than one cycle needs a frequency")
	case in.Frequency != nil && (in.Frequency.Every < 1 || in.Frequency.Every > 1000):
		return apperr.Invalid("frequency", "frequency.every must be between 1 and 1000")
	}
	completion := program.CompletionIGNORE
	if in.Completion != nil {
		completion = *in.Completion
	}
	types := pulid.Dedupe(in.BookingTypeIDs)
	switch {
	case completion == program.CompletionSELECTED && len(types) == 0:
		return apperr.Invalid("bookingTypeIDs", "SELECTED completion needs the booking types that complete a cycle")
	case completion != program.CompletionSELECTED && len(types) > 0:
		return apperr.Invalid("bookingTypeIDs", "booking types only apply with SELECTED completion")
	}
	if len(types) > 0 {
		n, err := s.client.BookingType.Query().Where(bookingtype.IDIn(types...)).Count(ctx)
		if err != nil {
			return err
		}
		if n != len(types) {
			return apperr.Invalid("bookingTypeIDs", "unknown booking type")
		}
	}
	in.Cycles, in.Completion = &cycles, &completion
	return nil
}

// ActionInput is an action to add to a program.
type ActionInput struct {
	ProgramID        pulid.ID
	Type             programaction.Type
	TemplateID       *pulid.ID
	SaveReplyContent bool
	LetterOption     *programaction.LetterOption
	Offset           int
	Unit             programaction.Unit
	Relation         programaction.Relation
	PauseOnError     *bool
}

// templateKind is the kind of template each action type sends.
var templateKind = map[programaction.Type]template.Kind{
	programaction.TypeSMS:               template.KindSMS,
	programaction.TypeEMAIL:             template.KindEMAIL,
	programaction.TypeLETTER_TO_PATIENT: template.KindLETTER,
	programaction.TypeLETTER_TO_GP:      template.KindLETTER,
}

// AddAction appends an action to a program.
func (s *Service) AddAction(ctx context.Context, in ActionInput) (*ent.Program, error) {
	if _, err := rule.ProgramManager.Check(ctx); err != nil {
		return nil, err
	}
	p, err := s.client.Program.Get(ctx, in.ProgramID)
	if err != nil {
		return nil, err
	}
	if err := s.validateAction(ctx, in); err != nil {
		return nil, err
	}
	n, err := p.QueryActions().Where(programaction.ArchivedAtIsNil()).Count(ctx)
	if err != nil {
		return nil, err
	}
	pause := true
	if in.PauseOnError != nil {
		pause = *in.PauseOnError
	}
	err = s.client.ProgramAction.Create().
		SetProgramID(p.ID).
		SetPosition(n).
		SetType(in.Type).
		SetNillableTemplateID(in.TemplateID).
		SetSaveReplyContent(in.SaveReplyContent).
		SetNillableLetterOption(in.LetterOption).
		SetOffset(in.Offset).
		SetUnit(in.Unit).
		SetRelation(in.Relation).
		SetPauseOnError(pause).
		Exec(ctx)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// validateAction applies the action rules of SPEC §6.
func (s *Service) validateAction(ctx context.Context, in ActionInput) error {
	letter := in.Type == programaction.TypeLETTER_TO_PATIENT || in.Type == programaction.TypeLETTER_TO_GP
	switch {
	case in.Offset < 0 || in.Offset > 1000:
		return apperr.Invalid("offset", "offset must be between 0 and 1000")
	case in.Relation == programaction.RelationON && in.Offset != 0:
		return apperr.Invalid("offset", "an action ON the reference date has offset 0")
	case in.Relation != programaction.RelationON && in.Offset == 0:
		return apperr.Invalid("offset", "an action BEFORE or AFTER the reference date needs an offset")
	case in.Type == programaction.TypePAUSE && in.TemplateID != nil:
		return apperr.Invalid("templateID", "a pause sends nothing and takes no template")
	case in.Type != programaction.TypePAUSE && in.TemplateID == nil:
		return apperr.Invalid("templateID", "a %s action needs a template", strings.ToLower(string(in.Type)))
	case letter && in.LetterOption == nil:
		return apperr.Invalid("letterOption", "a letter needs a print option (MAIL, EPOST or SAVE_FILE)")
	case !letter && in.LetterOption != nil:
		return apperr.Invalid("letterOption", "only letters take a print option")
	case in.SaveReplyContent && in.Type != programaction.TypeSMS:
		return apperr.Invalid("saveReplyContent", "only SMS actions receive replies")
	}
	if in.TemplateID != nil {
		t, err := s.client.Template.Get(ctx, *in.TemplateID)
		if ent.IsNotFound(err) {
			return apperr.Invalid("templateID", "unknown template")
		}
		if err != nil {
			return err
		}
		if t.Kind != templateKind[in.Type] {
			return apperr.Invalid("templateID", "a %s action needs a %s template, not %s", strings.ToLower(string(in.Type)),
				templateKind[in.Type], t.Kind)
		}
	}
	return nil
}

// UpdateAction replaces an action's settings (it keeps its place).
func (s *Service) UpdateAction(ctx context.Context, id pulid.ID, in ActionInput) (*ent.Program, error) {
	if _, err := rule.ProgramManager.Check(ctx); err != nil {
		return nil, err
	}
	a, err := s.client.ProgramAction.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if a.ArchivedAt != nil {
		return nil, apperr.Invalid("id", "the action has been removed from its program")
	}
	if err := s.validateAction(ctx, in); err != nil {
		return nil, err
	}
	pause := true
	if in.PauseOnError != nil {
		pause = *in.PauseOnError
	}
	upd := s.client.ProgramAction.UpdateOne(a).
		SetType(in.Type).
		SetSaveReplyContent(in.SaveReplyContent).
		SetOffset(in.Offset).
		SetUnit(in.Unit).
		SetRelation(in.Relation).
		SetPauseOnError(pause)
	if in.TemplateID != nil {
		upd.SetTemplateID(*in.TemplateID)
	} else {
		upd.ClearTemplateID()
	}
	if in.LetterOption != nil {
		upd.SetLetterOption(*in.LetterOption)
	} else {
		upd.ClearLetterOption()
	}
	if err := upd.Exec(ctx); err != nil {
		return nil, err
	}
	return s.client.Program.Get(ctx, a.ProgramID)
}

// SetEnabled enables or disables a program; enabling needs an action.
func (s *Service) SetEnabled(ctx context.Context, id pulid.ID, enabled bool) (*ent.Program, error) {
	if _, err := rule.ProgramManager.Check(ctx); err != nil {
		return nil, err
	}
	p, err := s.client.Program.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if enabled {
		n, err := p.QueryActions().Where(programaction.ArchivedAtIsNil()).Count(ctx)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, apperr.Invalid("enabled", "a program needs at least one action before it can be enabled")
		}
	}
	return s.client.Program.UpdateOne(p).SetEnabled(enabled).Save(ctx)
}

// Actions lists a program's actions in order.
func (s *Service) Actions(ctx context.Context, p *ent.Program) ([]*ent.ProgramAction, error) {
	return p.QueryActions().Where(programaction.ArchivedAtIsNil()).Order(ent.Asc(programaction.FieldPosition), ent.Asc(programaction.FieldID)).All(ctx)
}

// ProgramChange edits a program; nil fields stay. The type never changes.
type ProgramChange struct {
	Name           *string
	Cycles         *int
	Frequency      *Frequency
	ClearFrequency bool
	Completion     *program.Completion
	BookingTypeIDs *[]pulid.ID
}

// UpdateProgram edits a program under the same rules as CreateProgram.
func (s *Service) UpdateProgram(ctx context.Context, id pulid.ID, ch ProgramChange) (*ent.Program, error) {
	if _, err := rule.ProgramManager.Check(ctx); err != nil {
		return nil, err
	}
	p, err := s.client.Program.Query().Where(program.ID(id)).WithCompletingBookingTypes().Only(ctx)
	if err != nil {
		return nil, err
	}
	// Validate the program as it would be, by the creation rules.
	in := ProgramInput{Name: p.Name, Type: p.Type, Cycles: &p.Cycles, Completion: &p.Completion}
	if p.FrequencyEvery != nil && p.FrequencyUnit != nil {
		in.Frequency = &Frequency{Every: *p.FrequencyEvery, Unit: programaction.Unit(*p.FrequencyUnit)}
	}
	for _, bt := range p.Edges.CompletingBookingTypes {
		in.BookingTypeIDs = append(in.BookingTypeIDs, bt.ID)
	}
	if ch.Name != nil {
		in.Name = *ch.Name
	}
	if ch.Cycles != nil {
		in.Cycles = ch.Cycles
	}
	if ch.ClearFrequency {
		in.Frequency = nil
	}
	if ch.Frequency != nil {
		in.Frequency = ch.Frequency
	}
	if ch.Completion != nil {
		in.Completion = ch.Completion
	}
	if ch.BookingTypeIDs != nil {
		in.BookingTypeIDs = *ch.BookingTypeIDs
	}
	if err := s.validateProgram(ctx, &in); err != nil {
		return nil, err
	}
	upd := s.client.Program.UpdateOne(p).
		SetName(strings.TrimSpace(in.Name)).
		SetCycles(*in.Cycles).
		SetCompletion(*in.Completion).
		ClearCompletingBookingTypes().
		AddCompletingBookingTypeIDs(pulid.Dedupe(in.BookingTypeIDs)...)
	if in.Frequency != nil {
		upd.SetFrequencyEvery(in.Frequency.Every).SetFrequencyUnit(program.FrequencyUnit(in.Frequency.Unit))
	} else {
		upd.ClearFrequencyEvery().ClearFrequencyUnit()
	}
	return upd.Save(ctx)
}

// RemoveAction removes an action; the ones after it move up. An action
// some enrolment has reached is archived instead of deleted: it leaves the
// program, its steps keep pointing at it, and an enrolment waiting for it
// skips it. A program left without actions is disabled. All of it is one
// transaction, which first writes the program row: edits of one program
// queue behind each other (a row lock on PostgreSQL; SQLite has one writer),
// so two removals never both succeed or leave a gap in the positions.
func (s *Service) RemoveAction(ctx context.Context, id pulid.ID) (*ent.Program, error) {
	if _, err := rule.ProgramManager.Check(ctx); err != nil {
		return nil, err
	}
	a, err := s.client.ProgramAction.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	var p *ent.Program
	err = s.tx.Run(ctx, func(tx *ent.Tx, _ txn.Emit) error {
		var err error
		p, err = s.removeAction(ctx, tx.Client(), a.ID, a.ProgramID)
		return err
	})
	if err != nil {
		return nil, err
	}
	// Read again outside the transaction: the program answered is resolved
	// further (its actions, its booking types) after the commit, and an
	// entity bound to the finished transaction cannot load its edges.
	return s.client.Program.Get(ctx, p.ID)
}

// removeAction is RemoveAction inside its transaction c.
func (s *Service) removeAction(ctx context.Context, c *ent.Client, id, programID pulid.ID) (*ent.Program, error) {
	p, err := c.Program.UpdateOneID(programID).SetUpdatedAt(time.Now().UTC()).Save(ctx)
	if err != nil {
		return nil, err
	}
	// Read again behind the lock: another removal may have just committed.
	a, err := c.ProgramAction.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if a.ArchivedAt != nil {
		return nil, apperr.Invalid("id", "the action has already been removed")
	}
	reached, err := c.EnrollmentStep.Query().Where(enrollmentstep.ActionID(a.ID)).Exist(ctx)
	if err != nil {
		return nil, err
	}
	if reached {
		err = c.ProgramAction.UpdateOne(a).SetArchivedAt(time.Now().UTC()).Exec(ctx)
	} else {
		err = c.ProgramAction.DeleteOne(a).Exec(ctx)
	}
	if err != nil {
		return nil, err
	}
	if err := renumber(ctx, c, p, nil, 0); err != nil {
		return nil, err
	}
	if n, err := p.QueryActions().Where(programaction.ArchivedAtIsNil()).Count(ctx); err != nil {
		return nil, err
	} else if n == 0 && p.Enabled {
		return c.Program.UpdateOne(p).SetEnabled(false).Save(ctx)
	}
	return p, nil
}

// MoveAction puts an action at a position (0 first) among its program's,
// in one transaction: the positions are read and rewritten together, so
// two moves at once never leave two actions at one position.
func (s *Service) MoveAction(ctx context.Context, id pulid.ID, position int) (*ent.Program, error) {
	if _, err := rule.ProgramManager.Check(ctx); err != nil {
		return nil, err
	}
	var p *ent.Program
	err := s.tx.Run(ctx, func(tx *ent.Tx, _ txn.Emit) error {
		c := tx.Client()
		a, err := c.ProgramAction.Get(ctx, id)
		if err != nil {
			return err
		}
		if a.ArchivedAt != nil {
			return apperr.Invalid("id", "the action has been removed from its program")
		}
		// The program row is updated first: it serialises moves within
		// one program on PostgreSQL (the row lock) as SQLite does.
		if p, err = c.Program.UpdateOneID(a.ProgramID).SetUpdatedAt(time.Now().UTC()).Save(ctx); err != nil {
			return err
		}
		n, err := c.ProgramAction.Query().Where(programaction.ProgramID(p.ID), programaction.ArchivedAtIsNil()).Count(ctx)
		if err != nil {
			return err
		}
		if position < 0 || position >= n {
			return apperr.Invalid("position", "position must be between 0 and %d", n-1)
		}
		return renumber(ctx, c, p, a, position)
	})
	if err != nil {
		return nil, err
	}
	return p.Unwrap(), nil
}

// renumber rewrites positions 0..n-1 in order, with moved (if any) at pos,
// through c (the caller's transaction, or the service's client).
func renumber(ctx context.Context, c *ent.Client, p *ent.Program, moved *ent.ProgramAction, pos int) error {
	actions, err := p.QueryActions().Where(programaction.ArchivedAtIsNil()).
		Order(ent.Asc(programaction.FieldPosition), ent.Asc(programaction.FieldID)).All(ctx)
	if err != nil {
		return err
	}
	if moved != nil {
		rest := actions[:0:0]
		for _, a := range actions {
			if a.ID != moved.ID {
				rest = append(rest, a)
			}
		}
		actions = append(rest[:pos:pos], append([]*ent.ProgramAction{moved}, rest[pos:]...)...)
	}
	for i, a := range actions {
		if a.Position != i {
			if err := c.ProgramAction.UpdateOne(a).SetPosition(i).Exec(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// SetBookingTypePrograms links a booking type to the programs whose cycle it
// completes (the booking-type side of SELECTED completion). Each program
// must use SELECTED completion, and none may be left without a type.
func (s *Service) SetBookingTypePrograms(ctx context.Context, bookingTypeID pulid.ID, programIDs []pulid.ID) (*ent.BookingType, error) {
	if _, err := rule.ProgramManager.Check(ctx); err != nil {
		return nil, err
	}
	bt, err := s.client.BookingType.Get(ctx, bookingTypeID)
	if err != nil {
		return nil, err
	}
	want := map[pulid.ID]bool{}
	for _, id := range pulid.Dedupe(programIDs) {
		p, err := s.client.Program.Get(ctx, id)
		if ent.IsNotFound(err) {
			return nil, apperr.Invalid("programIDs", "unknown program")
		}
		if err != nil {
			return nil, err
		}
		if p.Completion != program.CompletionSELECTED {
			return nil, apperr.Invalid("programIDs", "%q does not complete cycles by selected booking types", p.Name)
		}
		want[id] = true
	}
	current, err := s.client.Program.Query().Where(program.HasCompletingBookingTypesWith(bookingtype.ID(bt.ID))).
		WithCompletingBookingTypes().All(ctx)
	if err != nil {
		return nil, err
	}
	have := map[pulid.ID]bool{}
	for _, p := range current {
		have[p.ID] = true
		if !want[p.ID] && len(p.Edges.CompletingBookingTypes) == 1 {
			return nil, apperr.Invalid("programIDs", "%q would be left with no booking type to complete its cycles", p.Name)
		}
	}
	err = s.tx.Run(ctx, func(tx *ent.Tx, _ txn.Emit) error {
		for id := range want {
			if !have[id] {
				if err := tx.Program.UpdateOneID(id).AddCompletingBookingTypeIDs(bt.ID).Exec(ctx); err != nil {
					return err
				}
			}
		}
		for id := range have {
			if !want[id] {
				if err := tx.Program.UpdateOneID(id).RemoveCompletingBookingTypeIDs(bt.ID).Exec(ctx); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return bt, nil
}
