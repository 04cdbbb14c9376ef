package graph_test

import (
	"testing"

	"github.com/whisper-health/whisper/internal/demo"
)

// Removing an action answers with the program as it now is, whatever the
// selection asks of it: the program returned must not be bound to the
// removal's finished transaction (it was, and reading its actions or its
// booking types answered INTERNAL although the removal was saved).
func TestRemoveProgramActionAnswersWithTheProgramsEdges(t *testing.T) {
	e := newEnv(t)
	admin := e.login(demo.AdminEmail)
	var tpl struct{ CreateTemplate struct{ ID string } }
	e.ok(admin.AccessToken, `mutation { createTemplate(input: {kind: SMS, name: "Nudge", body: "Hi {{patient.firstName}}"}) { id } }`, nil, &tpl)
	for _, tc := range []struct{ name, selection string }{
		{"actions", `actions { id position }`},
		{"completing booking types", `completingBookingTypes { id }`},
		{"both, with the actions' templates", `enabled actions { template { id } } completingBookingTypes { name }`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			var p struct{ CreateProgram struct{ ID string } }
			e.ok(admin.AccessToken, `mutation { createProgram(input: {name: "Check-in", type: GENERAL}) { id } }`, nil, &p)
			var added struct {
				AddProgramAction struct{ Actions []struct{ ID string } }
			}
			for range 2 {
				e.ok(admin.AccessToken, `mutation($in: ProgramActionInput!) { addProgramAction(input: $in) { actions { id } } }`,
					map[string]any{"in": map[string]any{"programID": p.CreateProgram.ID, "type": "SMS", "templateID": tpl.CreateTemplate.ID,
						"offset": 0, "unit": "DAYS", "relation": "ON"}}, &added)
			}
			first := added.AddProgramAction.Actions[0].ID
			var out struct {
				RemoveProgramAction struct {
					ID      string
					Actions []struct{ ID string }
				}
			}
			e.ok(admin.AccessToken, `mutation($id: ID!) { removeProgramAction(id: $id) { id `+tc.selection+` } }`, map[string]any{"id": first}, &out)
			if out.RemoveProgramAction.ID != p.CreateProgram.ID {
				t.Errorf("removeProgramAction answered program %q, want %q", out.RemoveProgramAction.ID, p.CreateProgram.ID)
			}
			for _, a := range out.RemoveProgramAction.Actions {
				if a.ID == first {
					t.Errorf("the removed action %s is still among the program's actions", first)
				}
			}
		})
	}
	// The last action removed disables the program; the answer says so.
	var p struct{ CreateProgram struct{ ID string } }
	e.ok(admin.AccessToken, `mutation { createProgram(input: {name: "One step", type: GENERAL}) { id } }`, nil, &p)
	var added struct {
		AddProgramAction struct{ Actions []struct{ ID string } }
	}
	e.ok(admin.AccessToken, `mutation($in: ProgramActionInput!) { addProgramAction(input: $in) { actions { id } } }`,
		map[string]any{"in": map[string]any{"programID": p.CreateProgram.ID, "type": "SMS", "templateID": tpl.CreateTemplate.ID,
			"offset": 0, "unit": "DAYS", "relation": "ON"}}, &added)
	e.ok(admin.AccessToken, `mutation($id: ID!) { setProgramEnabled(id: $id, enabled: true) { enabled } }`, map[string]any{"id": p.CreateProgram.ID}, nil)
	var out struct {
		RemoveProgramAction struct {
			Enabled bool
			Actions []struct{ ID string }
		}
	}
	e.ok(admin.AccessToken, `mutation($id: ID!) { removeProgramAction(id: $id) { enabled actions { id } completingBookingTypes { id } } }`,
		map[string]any{"id": added.AddProgramAction.Actions[0].ID}, &out)
	if out.RemoveProgramAction.Enabled || len(out.RemoveProgramAction.Actions) != 0 {
		t.Errorf("after removing its only action the program is %+v, want disabled with no actions", out.RemoveProgramAction)
	}
}
