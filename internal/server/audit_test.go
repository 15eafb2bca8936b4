package server_test

import (
	"testing"

	"switchyard/internal/tenancy"
)

func TestAdminActionsAreAudited(t *testing.T) {
	e := start(t, "")
	orgID, projectID, k := e.tenant("aud", nil, nil, nil)
	if st := e.call("DELETE", "/api/keys/"+k.ID, adminKey, nil, nil); st != 200 {
		t.Fatalf("revoke: %d", st)
	}
	var log struct {
		Data []struct {
			Seq       int64             `json:"seq"`
			Actor     string            `json:"actor"`
			Action    string            `json:"action"`
			Target    string            `json:"target"`
			RequestID string            `json:"request_id"`
			Detail    map[string]string `json:"detail"`
		} `json:"data"`
	}
	if st := e.call("GET", "/api/audit", adminKey, nil, &log); st != 200 {
		t.Fatalf("audit list: %d", st)
	}
	var got []string
	for _, x := range log.Data {
		got = append(got, x.Action+" "+x.Target)
		if x.Actor != tenancy.AdminEnvKeyID || x.RequestID == "" {
			t.Errorf("entry %+v: want actor %s (the SWITCHYARD_ADMIN_KEY key) and a request id", x, tenancy.AdminEnvKeyID)
		}
	}
	want := []string{"org.create " + orgID, "project.create " + projectID, "key.create " + k.ID, "key.revoke " + k.ID}
	if len(got) != len(want) {
		t.Fatalf("audit actions = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d = %q, want %q", i, got[i], want[i])
		}
	}
	var v struct {
		OK      bool  `json:"ok"`
		Entries int64 `json:"entries"`
	}
	if st := e.call("GET", "/api/audit/verify", adminKey, nil, &v); st != 200 || !v.OK || v.Entries != 4 {
		t.Errorf("verify: %d %+v", st, v)
	}
	if st := e.call("GET", "/api/audit", k.Key, nil, nil); st != 401 {
		t.Errorf("a (revoked) project key reading the audit log: %d", st)
	}
}
