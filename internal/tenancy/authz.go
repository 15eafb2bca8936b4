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

// CanSeeUsage: read the usage (and the request logs) of projectID in
// orgID, or of the whole organisation when projectID is "". The admin
// sees everything; the organisation's owners, admins and viewers see all
// of it; a member sees the projects they belong to; a project key sees
// only its own project. projectID must be a project of orgID.
func (k *Key) CanSeeUsage(orgID, projectID string) bool {
	if k.IsAdmin() {
		return true
	}
	if k.Role == RoleProject {
		return orgID != "" && projectID != "" && k.OrgID == orgID && k.ProjectID == projectID
	}
	u := k.userIn(orgID)
	switch {
	case u == nil:
		return false
	case u.Role == UserOwner || u.Role == UserAdmin || u.Role == UserViewer:
		return true
	}
	return u.Role == UserMember && projectID != "" && slices.Contains(u.Projects, projectID)
}
