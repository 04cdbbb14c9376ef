package graph_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/whisper-health/whisper/internal/demo"
)

func TestTemplatesValidatePlaceholders(t *testing.T) {
	e := newEnv(t)
	admin, kim := e.login(demo.AdminEmail), e.login(demo.KimEmail)
	const create = `mutation($in: CreateTemplateInput!) { createTemplate(input: $in) { id kind segments } }`
	var ok struct {
		CreateTemplate struct {
			ID       string
			Segments int
		}
	}
	e.ok(admin.AccessToken, create, map[string]any{"in": map[string]any{
		"kind": "SMS", "name": "Reminder", "body": "Hi {{patient.firstName}}, see {{doctor.name}} on {{ booking.date }} at {{booking.time}}."}}, &ok)
	if ok.CreateTemplate.Segments != 1 {
		t.Errorf("segments = %d, want 1", ok.CreateTemplate.Segments)
	}
	e.ok(admin.AccessToken, create, map[string]any{"in": map[string]any{"kind": "SMS", "name": "Long", "body": strings.Repeat("a", 161)}}, &ok)
	if ok.CreateTemplate.Segments != 2 {
		t.Errorf("161 GSM characters = %d segments, want 2", ok.CreateTemplate.Segments)
	}
	e.ok(admin.AccessToken, create, map[string]any{"in": map[string]any{"kind": "SMS", "name": "Unicode", "body": strings.Repeat("é", 60) + "✓"}}, &ok)
	if ok.CreateTemplate.Segments != 1 {
		t.Errorf("61 UCS-2 characters = %d segments, want 1", ok.CreateTemplate.Segments)
	}
	e.ok(admin.AccessToken, create, map[string]any{"in": map[string]any{"kind": "SMS", "name": "Emoji", "body": strings.Repeat("é", 69) + "😀"}}, &ok)
	if ok.CreateTemplate.Segments != 2 {
		t.Errorf("69 UCS-2 characters and an emoji (71 UTF-16 units) = %d segments, want 2", ok.CreateTemplate.Segments)
	}
	for name, in := range map[string]map[string]any{
		"unknown placeholder":   {"kind": "SMS", "name": "x", "body": "Hi {{patient.nickname}}"},
		"unbalanced braces":     {"kind": "SMS", "name": "x", "body": "Hi {{patient.firstName"},
		"email without subject": {"kind": "EMAIL", "name": "x", "body": "Hi"},
		"bad subject":           {"kind": "EMAIL", "name": "x", "subject": "{{nope}}", "body": "Hi"},
		"sms with subject":      {"kind": "SMS", "name": "x", "subject": "s", "body": "Hi"},
		"empty body":            {"kind": "LETTER", "name": "x", "body": " "},
	} {
		t.Run(name, func(t *testing.T) {
			e.with(t).fails(admin.AccessToken, create, map[string]any{"in": in}, "BAD_USER_INPUT")
		})
	}
	e.fails(kim.AccessToken, create, map[string]any{"in": map[string]any{"kind": "SMS", "name": "x", "body": "Hi"}}, "FORBIDDEN")
	var list struct{ Templates struct{ TotalCount int } }
	e.ok(admin.AccessToken, `{ templates { totalCount } }`, nil, &list)
	if list.Templates.TotalCount != 6 {
		t.Errorf("%d templates, want the demo's 2 and these 4 (the bad ones wrote nothing)", list.Templates.TotalCount)
	}
}

func TestProgramRules(t *testing.T) {
	e := newEnv(t)
	admin := e.login(demo.AdminEmail)
	const create = `mutation($in: CreateProgramInput!) { createProgram(input: $in) { id type cycles enabled frequency { every unit } } }`
	bad := map[string]map[string]any{
		"booking with cycles":      {"name": "x", "type": "BOOKING", "cycles": 2, "frequency": map[string]any{"every": 1, "unit": "WEEKS"}},
		"referral with frequency":  {"name": "x", "type": "REFERRAL", "frequency": map[string]any{"every": 1, "unit": "WEEKS"}},
		"cycles without frequency": {"name": "x", "type": "RECALL", "cycles": 3},
		"zero cycles":              {"name": "x", "type": "GENERAL", "cycles": 0},
		"selected without types":   {"name": "x", "type": "GENERAL", "completion": "SELECTED"},
		"types without selected":   {"name": "x", "type": "GENERAL", "bookingTypeIDs": []string{"bt01JD3F4M5X8Q9R2T6V7W8Y9Z0A"}},
		"unknown booking type":     {"name": "x", "type": "GENERAL", "completion": "SELECTED", "bookingTypeIDs": []string{"bt01JD3F4M5X8Q9R2T6V7W8Y9Z0A"}},
		"empty name":               {"name": " ", "type": "GENERAL"},
		"bad frequency":            {"name": "x", "type": "PROGRAM", "cycles": 2, "frequency": map[string]any{"every": 0, "unit": "DAYS"}},
	}
	for name, in := range bad {
		t.Run(name, func(t *testing.T) {
			e.with(t).fails(admin.AccessToken, create, map[string]any{"in": in}, "BAD_USER_INPUT")
		})
	}
	e.fails(e.login(demo.ChenEmail).AccessToken, create, map[string]any{"in": map[string]any{"name": "x", "type": "GENERAL"}}, "FORBIDDEN")

	var p struct {
		CreateProgram struct {
			ID, Type  string
			Cycles    int
			Enabled   bool
			Frequency *struct {
				Every int
				Unit  string
			}
		}
	}
	e.ok(admin.AccessToken, create, map[string]any{"in": map[string]any{"name": "Weight monitoring", "type": "PROGRAM", "cycles": 12,
		"frequency": map[string]any{"every": 1, "unit": "MONTHS"}}}, &p)
	if p.CreateProgram.Cycles != 12 || p.CreateProgram.Enabled || p.CreateProgram.Frequency == nil || p.CreateProgram.Frequency.Unit != "MONTHS" {
		t.Fatalf("program = %+v", p.CreateProgram)
	}
	id := p.CreateProgram.ID
	const enable = `mutation($id: ID!) { setProgramEnabled(id: $id, enabled: true) { enabled } }`
	e.fails(admin.AccessToken, enable, map[string]any{"id": id}, "BAD_USER_INPUT")

	var tpl struct{ CreateTemplate struct{ ID string } }
	e.ok(admin.AccessToken, `mutation { createTemplate(input: {kind: SMS, name: "Weigh-in", body: "Reply with your weight, {{patient.firstName}}"}) { id } }`, nil, &tpl)
	var letter struct{ CreateTemplate struct{ ID string } }
	e.ok(admin.AccessToken, `mutation { createTemplate(input: {kind: LETTER, name: "Summary", body: "Dear {{patient.fullName}}"}) { id } }`, nil, &letter)
	const add = `mutation($in: ProgramActionInput!) { addProgramAction(input: $in) { actions { position type offset unit relation pauseOnError template { id } } } }`
	action := func(extra map[string]any) map[string]any {
		in := map[string]any{"programID": id, "type": "SMS", "templateID": tpl.CreateTemplate.ID, "offset": 0, "unit": "DAYS", "relation": "ON"}
		for k, v := range extra {
			in[k] = v
		}
		return map[string]any{"in": in}
	}
	for name, extra := range map[string]map[string]any{
		"wrong template kind":   {"templateID": letter.CreateTemplate.ID},
		"pause with template":   {"type": "PAUSE"},
		"sms without template":  {"templateID": nil},
		"letter without option": {"type": "LETTER_TO_GP", "templateID": letter.CreateTemplate.ID},
		"option on an sms":      {"letterOption": "MAIL"},
		"ON with an offset":     {"offset": 3},
		"AFTER without offset":  {"relation": "AFTER"},
		"replies on a letter":   {"type": "LETTER_TO_PATIENT", "templateID": letter.CreateTemplate.ID, "letterOption": "SAVE_FILE", "saveReplyContent": true},
	} {
		t.Run(name, func(t *testing.T) {
			e.with(t).fails(admin.AccessToken, add, action(extra), "BAD_USER_INPUT")
		})
	}
	e.ok(admin.AccessToken, add, action(map[string]any{"saveReplyContent": true}), nil)
	e.ok(admin.AccessToken, add, action(map[string]any{"type": "PAUSE", "templateID": nil, "offset": 1, "relation": "AFTER", "unit": "WEEKS"}), nil)
	var out struct {
		AddProgramAction struct {
			Actions []struct {
				Position     int
				Type         string
				PauseOnError bool
			}
		}
	}
	e.ok(admin.AccessToken, add, action(map[string]any{"type": "LETTER_TO_PATIENT", "templateID": letter.CreateTemplate.ID, "letterOption": "SAVE_FILE",
		"pauseOnError": false, "offset": 2, "relation": "AFTER", "unit": "WEEKS"}), &out)
	acts := out.AddProgramAction.Actions
	if len(acts) != 3 || acts[0].Type != "SMS" || acts[1].Type != "PAUSE" || acts[2].Type != "LETTER_TO_PATIENT" || acts[2].PauseOnError {
		t.Errorf("actions = %+v, want SMS, PAUSE, letter (skip on error) in order", acts)
	}
	e.ok(admin.AccessToken, enable, map[string]any{"id": id}, nil)
	var list struct {
		Programs struct {
			TotalCount int
			Edges      []struct {
				Node struct {
					Name    string
					Enabled bool
				}
			}
		}
	}
	e.ok(admin.AccessToken, `{ programs { totalCount edges { node { name enabled } } } }`, nil, &list)
	if list.Programs.TotalCount != 2 {
		t.Errorf("%d programs, want the demo recall and this one", list.Programs.TotalCount)
	}
}

func TestEditingProgramsAndActions(t *testing.T) {
	e := newEnv(t)
	admin := e.login(demo.AdminEmail)
	sms := e.template(admin.AccessToken, "SMS", "Hi {{patient.firstName}}")
	prog := e.program(admin.AccessToken, map[string]any{"name": "Edit me", "type": "GENERAL"},
		map[string]any{"type": "SMS", "templateID": sms, "offset": 0, "unit": "DAYS", "relation": "ON"},
		map[string]any{"type": "PAUSE", "offset": 1, "unit": "DAYS", "relation": "AFTER"},
		map[string]any{"type": "SMS", "templateID": sms, "offset": 2, "unit": "DAYS", "relation": "AFTER"})
	const show = `query($id: ID!) { node(id: $id) { ... on Program { name type cycles enabled frequency { every unit } actions { id position type offset } } } }`
	type progView struct {
		Node struct {
			Name, Type string
			Cycles     int
			Enabled    bool
			Frequency  *struct{ Every int }
			Actions    []struct {
				ID, Type         string
				Position, Offset int
			}
		}
	}
	var p progView
	e.ok(admin.AccessToken, show, map[string]any{"id": prog}, &p)
	const upd = `mutation($in: UpdateProgramInput!) { updateProgram(input: $in) { id } }`
	e.fails(admin.AccessToken, upd, map[string]any{"in": map[string]any{"id": prog, "cycles": 4}}, "BAD_USER_INPUT") // no frequency
	e.ok(admin.AccessToken, upd, map[string]any{"in": map[string]any{"id": prog, "name": "Edited", "cycles": 4,
		"frequency": map[string]any{"every": 2, "unit": "WEEKS"}}}, nil)
	e.ok(admin.AccessToken, `mutation($id: ID!) { moveProgramAction(id: $id, position: 0) { id } }`, map[string]any{"id": p.Node.Actions[2].ID}, nil)
	e.fails(admin.AccessToken, `mutation($id: ID!) { moveProgramAction(id: $id, position: 7) { id } }`, map[string]any{"id": p.Node.Actions[2].ID}, "BAD_USER_INPUT")
	e.ok(admin.AccessToken, `mutation($in: UpdateProgramActionInput!) { updateProgramAction(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"id": p.Node.Actions[0].ID, "type": "SMS", "templateID": sms, "offset": 3, "unit": "DAYS", "relation": "BEFORE"}}, nil)
	e.fails(admin.AccessToken, `mutation($in: UpdateProgramActionInput!) { updateProgramAction(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"id": p.Node.Actions[0].ID, "type": "PAUSE", "templateID": sms, "offset": 0, "unit": "DAYS", "relation": "ON"}}, "BAD_USER_INPUT")
	e.ok(admin.AccessToken, `mutation($id: ID!) { removeProgramAction(id: $id) { id } }`, map[string]any{"id": p.Node.Actions[1].ID}, nil)
	e.ok(admin.AccessToken, show, map[string]any{"id": prog}, &p)
	n := p.Node
	if n.Name != "Edited" || n.Type != "GENERAL" || n.Cycles != 4 || n.Frequency == nil || n.Frequency.Every != 2 {
		t.Errorf("program = %+v", n)
	}
	if len(n.Actions) != 2 || n.Actions[0].Offset != 2 || n.Actions[1].Offset != 3 || n.Actions[0].Position != 0 || n.Actions[1].Position != 1 {
		t.Errorf("actions = %+v, want the moved SMS first, then the edited one, renumbered", n.Actions)
	}
	for _, a := range n.Actions {
		e.ok(admin.AccessToken, `mutation($id: ID!) { removeProgramAction(id: $id) { id } }`, map[string]any{"id": a.ID}, nil)
	}
	e.ok(admin.AccessToken, show, map[string]any{"id": prog}, &p)
	if p.Node.Enabled {
		t.Errorf("a program without actions is still enabled")
	}
	e.fails(e.login(demo.ChenEmail).AccessToken, upd, map[string]any{"in": map[string]any{"id": prog, "name": "x"}}, "FORBIDDEN")
}

func TestBookingTypesLinkToThePrograms(t *testing.T) {
	e := newEnv(t)
	admin := e.login(demo.AdminEmail)
	var bt struct{ BookingTypes []struct{ ID, Name string } }
	e.ok(admin.AccessToken, `{ bookingTypes { id name } }`, nil, &bt)
	types := map[string]string{}
	for _, b := range bt.BookingTypes {
		types[b.Name] = b.ID
	}
	sms := e.template(admin.AccessToken, "SMS", "Hi")
	selected := e.program(admin.AccessToken, map[string]any{"name": "Selected", "type": "GENERAL", "completion": "SELECTED",
		"bookingTypeIDs": []string{types["Recall Review"]}},
		map[string]any{"type": "SMS", "templateID": sms, "offset": 0, "unit": "DAYS", "relation": "ON"})
	ignore := e.program(admin.AccessToken, map[string]any{"name": "Ignore", "type": "GENERAL"},
		map[string]any{"type": "SMS", "templateID": sms, "offset": 0, "unit": "DAYS", "relation": "ON"})
	const set = `mutation($b: ID!, $p: [ID!]!) { setBookingTypePrograms(bookingTypeID: $b, programIDs: $p) { id completesPrograms { name } } }`
	e.fails(admin.AccessToken, set, map[string]any{"b": types["Standard Consultation"], "p": []string{ignore}}, "BAD_USER_INPUT")
	var out struct {
		SetBookingTypePrograms struct{ CompletesPrograms []struct{ Name string } }
	}
	e.ok(admin.AccessToken, set, map[string]any{"b": types["Standard Consultation"], "p": []string{selected}}, &out)
	if len(out.SetBookingTypePrograms.CompletesPrograms) != 1 {
		t.Errorf("standard consultation completes %v", out.SetBookingTypePrograms.CompletesPrograms)
	}
	// Recall Review keeps only the demo recall: "Selected" is left with the
	// standard consultation. (Emptying it would strand the demo recall.)
	var progs struct {
		Programs struct {
			Edges []struct{ Node struct{ ID, Name string } }
		}
	}
	e.ok(admin.AccessToken, `{ programs { edges { node { id name } } } }`, nil, &progs)
	var recall string
	for _, p := range progs.Programs.Edges {
		if p.Node.Name == demo.RecallProgramName {
			recall = p.Node.ID
		}
	}
	e.fails(admin.AccessToken, set, map[string]any{"b": types["Recall Review"], "p": []string{}}, "BAD_USER_INPUT")
	e.ok(admin.AccessToken, set, map[string]any{"b": types["Recall Review"], "p": []string{recall}}, nil)
	// Now standard is its only type: unlinking it is refused.
	e.fails(admin.AccessToken, set, map[string]any{"b": types["Standard Consultation"], "p": []string{}}, "BAD_USER_INPUT")
	e.fails(e.login(demo.KimEmail).AccessToken, set, map[string]any{"b": types["Standard Consultation"], "p": []string{selected}}, "FORBIDDEN")
}

func TestUpdatingATemplateChecksItLikeANewOne(t *testing.T) {
	e := newEnv(t)
	admin := e.login(demo.AdminEmail)
	const update = `mutation($in: UpdateTemplateInput!) { updateTemplate(input: $in) { id name subject body segments } }`
	var created struct{ CreateTemplate struct{ ID string } }
	e.ok(admin.AccessToken, `mutation { createTemplate(input: {kind: EMAIL, name: "Results", subject: "Your results", body: "Hi {{patient.firstName}}"}) { id } }`, nil, &created)
	id := created.CreateTemplate.ID
	var out struct {
		UpdateTemplate struct {
			Name, Body string
			Subject    *string
		}
	}
	e.ok(admin.AccessToken, update, map[string]any{"in": map[string]any{"id": id, "body": " Hello {{patient.fullName}} "}}, &out)
	if out.UpdateTemplate.Body != "Hello {{patient.fullName}}" || out.UpdateTemplate.Name != "Results" || out.UpdateTemplate.Subject == nil {
		t.Errorf("after editing the body: %+v", out.UpdateTemplate)
	}
	for name, in := range map[string]map[string]any{
		"unknown placeholder": {"id": id, "body": "Hi {{patient.nickname}}"},
		"email loses subject": {"id": id, "subject": ""},
		"empty name":          {"id": id, "name": " "},
	} {
		t.Run(name, func(t *testing.T) {
			e.with(t).fails(admin.AccessToken, update, map[string]any{"in": in}, "BAD_USER_INPUT")
		})
	}
	e.fails(e.login(demo.KimEmail).AccessToken, update, map[string]any{"in": map[string]any{"id": id, "name": "x"}}, "FORBIDDEN")
	var node struct{ Node struct{ Name, Body string } }
	e.ok(admin.AccessToken, `query($id: ID!) { node(id: $id) { ... on Template { name body } } }`, map[string]any{"id": id}, &node)
	if node.Node.Body != "Hello {{patient.fullName}}" || node.Node.Name != "Results" {
		t.Errorf("the refused edits changed the template: %+v", node.Node)
	}
}

// Removing an action is one transaction behind the program's row: of
// several removals of the same action at once exactly one succeeds (the
// rest are told it is already removed), and removing the last actions at
// once leaves the program disabled with no gaps in the positions.
func TestConcurrentActionRemovals(t *testing.T) {
	e := newEnv(t)
	admin := e.login(demo.AdminEmail)
	sms := func(body string) string { return e.template(admin.AccessToken, "SMS", body) }
	prog := e.program(admin.AccessToken, map[string]any{"name": "Busy", "type": "GENERAL"},
		map[string]any{"type": "SMS", "templateID": sms("A"), "offset": 0, "unit": "DAYS", "relation": "ON"},
		map[string]any{"type": "SMS", "templateID": sms("B"), "offset": 1, "unit": "DAYS", "relation": "AFTER"},
		map[string]any{"type": "SMS", "templateID": sms("C"), "offset": 2, "unit": "DAYS", "relation": "AFTER"})
	e.enroll(admin.AccessToken, prog, e.patientID(admin.AccessToken, "P0001"), nil)
	if n := e.run(); n != 1 {
		t.Fatalf("%d actions ran, want the first SMS", n)
	}
	const remove = `mutation($id: ID!) { removeProgramAction(id: $id) { id } }`
	at := func(ids ...string) []response {
		out := make([]response, len(ids))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				out[i] = e.do(admin.AccessToken, remove, map[string]any{"id": id})
			}()
		}
		close(start)
		wg.Wait()
		return out
	}
	ids := e.actionIDs(admin.AccessToken, prog)
	// The first action has been reached, so it is archived, not deleted.
	ok, already := 0, 0
	for _, r := range at(ids[0], ids[0], ids[0], ids[0], ids[0], ids[0]) {
		switch {
		case len(r.Errors) == 0:
			ok++
		case r.Errors[0].Code() == "BAD_USER_INPUT":
			already++
		default:
			t.Errorf("a concurrent removal failed with %s: %s", r.Errors[0].Code(), r.Errors[0].Message)
		}
	}
	if ok != 1 || already != 5 {
		t.Errorf("six removals of one action at once: %d succeeded and %d were told it is removed, want 1 and 5", ok, already)
	}
	for _, r := range at(ids[1], ids[2]) {
		if len(r.Errors) > 0 {
			t.Errorf("removing the last actions: %s", r.Errors[0].Message)
		}
	}
	var out struct {
		Node struct {
			Enabled bool
			Actions []struct{ ID string }
		}
	}
	e.ok(admin.AccessToken, `query($id: ID!) { node(id: $id) { ... on Program { enabled actions { id } } } }`, map[string]any{"id": prog}, &out)
	if out.Node.Enabled || len(out.Node.Actions) != 0 {
		t.Errorf("program after removing every action = %+v, want disabled and empty", out.Node)
	}
}
