//! The technician's and supervisor's side: the queue from cached issues, and every lifecycle
//! action checked by core's state machine before its op is queued.

use jiff::Timestamp;

use super::reference::put_issue;
use super::{Engine, enqueue};
use crate::error::{Error, Result};
use crate::ids::{IssueId, UserId};
use crate::issue::Issue;
use crate::lifecycle::{self, Action, Assignee, RuleError};
use crate::sla::{self, SlaState};
use crate::wire::{
    ExtensionDecideOp, ExtensionRequestOp, IssueAssign, IssueComment, IssueResolve, IssueStart,
    IssueVerify, OpBody,
};

/// Which issues a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobsScope {
    /// A technician's work: active jobs of their team or assigned to them. For supervisors and
    /// managers, everything active on their sites.
    Mine,
    /// Everything cached for the user's sites, closed ones too.
    All,
}

impl Engine {
    /// Issues in due-time order (the queue).
    pub fn jobs(&self, scope: JobsScope) -> Result<Vec<Issue>> {
        let actor = self.actor()?;
        let all: Vec<Issue> = self.store.read(|c| {
            let mut stmt = c.prepare("SELECT data FROM issues ORDER BY due_at_ms, id")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.map(|d| Ok(serde_json::from_str(&d?)?)).collect()
        })?;
        Ok(all
            .into_iter()
            .filter(|i| lifecycle::may_see(&actor, i))
            .filter(|i| match scope {
                JobsScope::All => true,
                JobsScope::Mine => {
                    i.status.is_active()
                        && (actor.role.supervises()
                            || i.assignee_id == Some(actor.user_id)
                            || (actor.team.is_some() && actor.team == Some(i.team)))
                }
            })
            .collect())
    }

    /// Where an issue stands against its due time by the engine's clock; `None` once closed.
    pub fn sla_state(&self, issue: &Issue) -> Option<SlaState> {
        sla::issue_state(issue, self.now())
    }

    fn transition(&self, issue_id: IssueId, action: Action, body: OpBody) -> Result<Issue> {
        let actor = self.actor()?;
        // An issue cached for someone else on a shared phone is unknown to this person, as it
        // is on the server.
        let issue = self
            .issue(issue_id)?
            .filter(|i| lifecycle::may_see(&actor, i))
            .ok_or(RuleError::UnknownIssue)?;
        let now = self.now();
        let t = lifecycle::apply(&issue, &actor, action, now)?;
        self.store.write(|tx| {
            put_issue(tx, &t.issue)?;
            enqueue(tx, now, &body)?;
            Ok(t.issue.clone())
        })
    }

    /// Assign (or reassign) an issue to a person of its team.
    pub fn assign(&self, issue_id: IssueId, assignee_id: UserId) -> Result<Issue> {
        let user = self
            .user(assignee_id)?
            .ok_or(Error::Rule(lifecycle::RuleError::AssigneeNotInTeam))?;
        let assignee = Assignee {
            user_id: user.id,
            role: user.role,
            team: user.team,
            site_ids: user.site_ids,
        };
        self.transition(
            issue_id,
            Action::Assign { assignee },
            OpBody::IssueAssign(IssueAssign {
                issue_id,
                assignee_id,
            }),
        )
    }

    /// Start work on a job.
    pub fn start_job(&self, issue_id: IssueId) -> Result<Issue> {
        self.transition(
            issue_id,
            Action::Start,
            OpBody::IssueStart(IssueStart { issue_id }),
        )
    }

    /// Report the fix, with a note and photos.
    pub fn resolve_job(
        &self,
        issue_id: IssueId,
        note: Option<String>,
        photos: Vec<String>,
    ) -> Result<Issue> {
        self.transition(
            issue_id,
            Action::Resolve {
                note: note.clone(),
                photos: photos.clone(),
            },
            OpBody::IssueResolve(IssueResolve {
                issue_id,
                note,
                photos,
            }),
        )
    }

    /// Verify a fix on site: accept with a signature (a photo id of the signature image), or
    /// reject with a reason.
    pub fn verify(
        &self,
        issue_id: IssueId,
        accepted: bool,
        note: Option<String>,
        signature: Option<String>,
        photos: Vec<String>,
    ) -> Result<Issue> {
        self.transition(
            issue_id,
            Action::Verify {
                accepted,
                note: note.clone(),
                signature: signature.clone(),
                photos: photos.clone(),
            },
            OpBody::IssueVerify(IssueVerify {
                issue_id,
                accepted,
                note,
                signature,
                photos,
            }),
        )
    }

    /// Ask the manager for more time.
    pub fn request_extension(
        &self,
        issue_id: IssueId,
        reason: String,
        due_at: Timestamp,
    ) -> Result<Issue> {
        self.transition(
            issue_id,
            Action::RequestExtension {
                reason: reason.clone(),
                due_at,
            },
            OpBody::ExtensionRequest(ExtensionRequestOp {
                issue_id,
                reason,
                due_at,
            }),
        )
    }

    /// Approve or deny the waiting extension (managers).
    pub fn decide_extension(
        &self,
        issue_id: IssueId,
        approved: bool,
        note: Option<String>,
    ) -> Result<Issue> {
        self.transition(
            issue_id,
            Action::DecideExtension {
                approved,
                note: note.clone(),
            },
            OpBody::ExtensionDecide(ExtensionDecideOp {
                issue_id,
                approved,
                note,
            }),
        )
    }

    /// Comment on an issue.
    pub fn comment(&self, issue_id: IssueId, text: String) -> Result<Issue> {
        self.transition(
            issue_id,
            Action::Comment { text: text.clone() },
            OpBody::IssueComment(IssueComment { issue_id, text }),
        )
    }
}
