package tenancy

import "slices"

// Who may do what. The platform admin key may do everything. A user's key
// acts with the user's role in their organisation: owners and admins
// manage the whole organisation, members manage the keys of their own
// projects and read those projects' usage, viewers read the organisation.
// A project key calls /v1 and reads only its own usage.

func (k *Key) userIn(orgID string) *User {
	if k.Role != RoleUser || k.User == nil || k.User.OrgID != orgID || orgID == "" {
		return nil
	}
	return k.User
}

// IsAdmin reports whether k is the platform admin key.
func (k *Key) IsAdmin() bool { return k.Role == RoleAdmin }

// CanReadOrg: see the organisation, its projects and users.
func (k *Key) CanReadOrg(orgID string) bool {
	return k.IsAdmin() || k.userIn(orgID) != nil
}

// CanManageOrg: change the organisation, its projects, users and keys.
func (k *Key) CanManageOrg(orgID string) bool {
	if k.IsAdmin() {
		return true
	}
	u := k.userIn(orgID)
	return u != nil && (u.Role == UserOwner || u.Role == UserAdmin)
}

// CanManageProject: create, change and revoke the project's keys.
func (k *Key) CanManageProject(p *Project) bool {
	if k.CanManageOrg(p.OrgID) {
		return true
	}
	u := k.userIn(p.OrgID)
	return u != nil && u.Role == UserMember && slices.Contains(u.Projects, p.ID)
}

// CanReadProject: see the project's keys and usage.
func (k *Key) CanReadProject(p *Project) bool {
	if k.CanManageProject(p) {
		return true
	}
	u := k.userIn(p.OrgID)
	return u != nil && u.Role == UserViewer
}
