//! Demo organisation for trials (`custos serve --demo`): a small department tree and one
//! user per built-in role, all through the normal use cases so they are audited.

use crate::org::{DepartmentPatch, NewDepartment, NewUser, RoleAssignment};
use crate::{AppResult, Context, Source};

/// Password of every demo user (demo data is for trials only).
pub const DEMO_PASSWORD: &str = "custos-demo-2026";

/// The demo users `seed_demo` creates, with what each one is for (printed by `serve --demo`).
pub const DEMO_USERS: &[(&str, &str)] = &[
    ("steward", "数据管理员 / data steward, all customers"),
    (
        "manager_east",
        "审批人 + 录入员 / approver and clerk, 华东大区",
    ),
    ("clerk_east", "业务录入员 / clerk, own customers"),
    ("clerk_north", "业务录入员 / clerk, own customers"),
    ("query_sales", "业务查询员 / query, 销售部"),
    ("executive", "高级管理人员 / executive, statistics"),
];

fn role(role: &str, scope: &str) -> RoleAssignment {
    RoleAssignment {
        role: role.into(),
        scope: scope.into(),
        expires_at: None,
    }
}

/// The use cases of demo data for trials and what benchmarks need below the use cases; `App::demo` gives it out.
pub struct Demo<'a> {
    pub(crate) app: &'a crate::App,
}

impl Demo<'_> {
    /// Add the demo organisation unless departments already exist. Returns how many users
    /// were created.
    pub async fn seed_demo(&self) -> AppResult<usize> {
        let admin = self
            .app
            .auth()
            .actor_for_username("admin", Context::new(Source::System))
            .await?;
        if !self.app.org().list_departments(&admin).await?.is_empty() {
            return Ok(0);
        }
        let dept = |name: &str, parent: Option<i64>| NewDepartment {
            name: name.into(),
            parent_id: parent,
            manager_id: None,
        };
        let hq = self
            .app
            .org()
            .create_department(&admin, dept("总部", None))
            .await?;
        let sales = self
            .app
            .org()
            .create_department(&admin, dept("销售部", Some(hq.id)))
            .await?;
        let east = self
            .app
            .org()
            .create_department(&admin, dept("华东大区", Some(sales.id)))
            .await?;
        let north = self
            .app
            .org()
            .create_department(&admin, dept("华北大区", Some(sales.id)))
            .await?;
        let archive = self
            .app
            .org()
            .create_department(&admin, dept("档案室", Some(hq.id)))
            .await?;
        let users = [
            (
                "steward",
                "陈数据",
                archive.id,
                vec![role("steward", "all")],
            ),
            (
                "manager_east",
                "王经理",
                east.id,
                vec![role("approver", "department"), role("clerk", "department")],
            ),
            ("clerk_east", "李录入", east.id, vec![role("clerk", "own")]),
            (
                "clerk_north",
                "赵录入",
                north.id,
                vec![role("clerk", "own")],
            ),
            (
                "query_sales",
                "孙查询",
                sales.id,
                vec![role("query", "department")],
            ),
            ("executive", "周总", hq.id, vec![role("executive", "all")]),
        ];
        let mut manager_id = None;
        let mut owners = vec![admin.user_id];
        debug_assert!(users.iter().map(|u| u.0).eq(DEMO_USERS.iter().map(|u| u.0)));
        let created = users.len();
        for (username, name, dept_id, roles) in users {
            let u = self
                .app
                .org()
                .create_user(
                    &admin,
                    NewUser {
                        username: username.into(),
                        password: DEMO_PASSWORD.into(),
                        display_name: Some(name.into()),
                        department_id: Some(dept_id),
                        email: None,
                        roles,
                    },
                )
                .await?;
            if username == "manager_east" {
                manager_id = Some(u.id);
            }
            if username.starts_with("clerk") || username.starts_with("manager") {
                owners.push(u.id);
            }
        }
        self.app
            .org()
            .update_department(
                &admin,
                east.id,
                DepartmentPatch {
                    manager_id: Some(manager_id),
                    ..Default::default()
                },
            )
            .await?;
        // The standard fields (invoicing, addresses, intent …), so the forms show them.
        self.app.fields().add_standard_fields(&admin).await?;
        // About 200 customers spread over the demo owners (and their departments), with
        // a few years of business records each for the overview and the timeline.
        self.add_demo_customers(&admin, 200, 2026, &owners, |_| {})
            .await?;
        self.app
            .activities()
            .add_demo_activities(&admin, 2_000, 2026, |_| {})
            .await?;
        Ok(created)
    }

    /// Back up the embedded database (`system.backup`), encrypted when a passphrase is
    /// given; the backup itself is audited first, so the copy contains its own record.
    pub async fn backup(
        &self,
        actor: &crate::Actor,
        dest: &std::path::Path,
        passphrase: Option<&crate::backup::Passphrase>,
    ) -> AppResult<crate::backup::BackupHeader> {
        actor.require("system.backup")?;
        // Refuse PostgreSQL before auditing: the log must not record a backup that was
        // never written.
        crate::backup::check_backup_supported(&self.app.db)?;
        let mut tx = self.app.db.begin().await?;
        if passphrase.is_some() {
            refuse_while_rekeying(&mut tx).await?;
        }
        let mut r = crate::audit::record(actor, "system.backup", "database", "main");
        r.after = crate::to_json(&serde_json::json!({
            "file": dest.display().to_string(),
            "encrypted": passphrase.is_some(),
        }));
        crate::audit::append(&mut tx, r).await?;
        tx.commit().await?;
        let header =
            crate::backup::write_backup(&self.app.db, dest, &self.app.config.pii_key, passphrase)
                .await?;
        // Anchor the chain as the backup holds it (the checkpoint file is not in it).
        self.app.audit().checkpoint_after("the backup").await;
        Ok(header)
    }
}

/// An encrypted backup carries the active PII key only: while values under an older key
/// remain (a re-keying not finished), it could not restore them.
async fn refuse_while_rekeying(tx: &mut custos_store::Tx) -> AppResult<()> {
    match crate::keyring::RekeyJob::read(tx).await? {
        Some(job) if job.finished_at.is_none() => {
            Err(crate::AppError::Rejected(custos_core::Violation::new(
                "backup.rekey_running",
                format!(
                    "个人信息密钥轮换后的重新加密尚未完成（目标密钥 {}）：加密备份只携带当前密钥，\
                     请在完成后（custos key rekey）再备份",
                    job.target
                ),
                format!(
                    "the re-keying to PII key {} has not finished: an encrypted backup carries \
                     the active key only; back up once it has (custos key rekey)",
                    job.target
                ),
            )))
        }
        _ => Ok(()),
    }
}
