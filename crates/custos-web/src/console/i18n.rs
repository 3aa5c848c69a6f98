//! The console's words. Every label and help text of a page comes from here, in Chinese
//! (the default) and English; errors come from the use cases' own messages (`Violation`),
//! which the API's problem details show too. Each page module's table is in `words/`
//! and listed in [`TABLES`]; a test checks that every key a template asks for exists.

use std::collections::HashMap;
use std::sync::OnceLock;

use custos_core::violation::Lang;

pub(crate) use super::words::Entry;

/// Words of the frame every page shares: navigation, buttons, the login and account pages.
const SHELL: &[Entry] = &[
    ("app.name", "客户主数据管理", "Customer master data"),
    ("app.short", "custos", "custos"),
    ("nav.dashboard", "工作台", "Dashboard"),
    ("nav.customers", "客户", "Customers"),
    ("nav.new_customer", "新增客户", "New customer"),
    ("nav.applications", "我的申请", "My applications"),
    ("nav.inbox", "待办", "Inbox"),
    ("nav.stats", "统计", "Statistics"),
    ("nav.exports", "导出", "Exports"),
    ("nav.imports", "导入", "Imports"),
    ("nav.duplicates", "查重审核", "Duplicates"),
    ("nav.account", "账户", "Account"),
    ("nav.logout", "退出登录", "Log out"),
    ("nav.api_docs", "接口文档", "API docs"),
    ("nav.skip", "跳到正文", "Skip to content"),
    ("lang.switch", "English", "中文"),
    ("lang.switch_label", "切换语言", "Switch language"),
    ("login.title", "登录", "Log in"),
    ("login.username", "用户名", "Username"),
    ("login.password", "密码", "Password"),
    ("login.submit", "登录", "Log in"),
    ("login.sso", "或使用企业账号登录", "Or sign in with your company account"),
    (
        "login.sso_cancelled",
        "单点登录已取消或被登录服务拒绝。",
        "Single sign-on was cancelled or refused by the login service.",
    ),
    (
        "login.expired",
        "请先登录；长时间未操作或已在别处退出时也需要重新登录。",
        "Please log in; a session also ends after a period without activity or a logout elsewhere.",
    ),
    (
        "login.form_expired",
        "登录页面已过期，请重新提交。",
        "The login page expired; please submit again.",
    ),
    ("account.title", "我的账户", "My account"),
    ("account.profile", "基本信息", "Profile"),
    ("account.username", "用户名", "Username"),
    ("account.display_name", "姓名", "Name"),
    ("account.roles", "角色", "Roles"),
    ("account.language", "界面语言", "Language"),
    ("account.language_zh", "中文", "Chinese"),
    ("account.language_en", "English", "English"),
    ("account.save_language", "保存语言", "Save language"),
    ("account.password", "修改密码", "Change password"),
    ("account.current_password", "当前密码", "Current password"),
    ("account.new_password", "新密码", "New password"),
    (
        "account.password_help",
        "至少 12 个字符，不能是常见密码，也不能包含用户名或姓名。修改后所有登录（包括接口令牌）都会失效，需要重新登录。",
        "At least 12 characters, not a common password, not containing your username or name. Every session (API tokens included) ends after the change; log in again.",
    ),
    ("account.change_password", "修改密码", "Change password"),
    (
        "account.password_changed",
        "密码已修改，请用新密码重新登录。",
        "Password changed; log in with the new password.",
    ),
    ("error.title", "出错了", "Something went wrong"),
    ("error.not_found", "找不到该页面或记录，或您无权查看。", "Not found, or not visible to you."),
    ("error.forbidden", "您没有执行此操作的权限。", "You may not do this."),
    ("error.csrf", "页面已过期，请刷新后重试。", "The page expired; reload it and try again."),
    ("error.back", "返回工作台", "Back to the dashboard"),
    ("error.request_id", "请求编号", "Request id"),
    ("form.errors", "请修正以下问题：", "Please correct the following:"),
    ("form.required", "必填", "required"),
    ("form.save", "保存", "Save"),
    ("form.cancel", "取消", "Cancel"),
    ("form.search", "查询", "Search"),
    ("form.reset", "重置", "Reset"),
];

/// Every table of words; a page module with its own table adds it here.
const TABLES: &[&[Entry]] = &[
    SHELL,
    super::words::figures::FIGURE_WORDS,
    super::words::report_figures::REPORT_WORDS,
    super::words::quality::WORDS,
    super::words::customer_list::WORDS,
    super::words::exports::WORDS,
    super::words::customer_words::CUSTOMER_WORDS,
    super::words::customer_assign::WORDS,
    super::words::customer_group::WORDS,
    super::words::applications::WORDS,
    super::words::application_form::WORDS,
    super::words::inbox::WORDS,
    super::words::imports::WORDS,
    super::words::flow_form::WORDS,
    super::words::fields::WORDS,
    super::words::duplicates::WORDS,
    super::words::sources::WORDS,
    super::words::service_accounts::WORDS,
    super::words::webhooks::WORDS,
    super::words::channels::WORDS,
    super::words::admin_words::WORDS,
    super::words::rule_words::WORDS,
];

fn catalog() -> &'static HashMap<&'static str, (&'static str, &'static str)> {
    static CATALOG: OnceLock<HashMap<&'static str, (&'static str, &'static str)>> = OnceLock::new();
    CATALOG.get_or_init(|| {
        TABLES
            .iter()
            .flat_map(|t| t.iter())
            .map(|(k, zh, en)| (*k, (*zh, *en)))
            .collect()
    })
}

/// The words for `key` in `lang`; the key itself when the catalog lacks it (a test keeps
/// that from shipping).
pub(crate) fn t(lang: Lang, key: &str) -> &str {
    match (catalog().get(key), lang) {
        (Some((zh, _)), Lang::Zh) => zh,
        (Some((_, en)), Lang::En) => en,
        (None, _) => key,
    }
}

/// The `lang` attribute of a page.
pub(crate) fn html_lang(lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => "zh-CN",
        Lang::En => "en",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `t("…")` in a template and every `"…"` passed to `t` in the console's Rust
    /// code names a word in the catalog, and no key is listed twice.
    #[test]
    fn every_key_used_is_in_the_catalog() {
        let mut seen = std::collections::HashSet::new();
        for (k, _, _) in TABLES.iter().flat_map(|t| t.iter()) {
            assert!(seen.insert(*k), "key {k} listed twice");
        }
        let dirs = [
            concat!(env!("CARGO_MANIFEST_DIR"), "/templates/console"),
            concat!(env!("CARGO_MANIFEST_DIR"), "/src/console"),
        ];
        let mut missing = Vec::new();
        // Templates and modules in sub-directories too (templates/console/<area>/).
        let mut files = Vec::new();
        let mut pending: Vec<std::path::PathBuf> = dirs.iter().map(Into::into).collect();
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                match entry.path().is_dir() {
                    true => pending.push(entry.path()),
                    false => files.push(entry),
                }
            }
        }
        {
            for entry in files {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                for part in text.split("t(\"").skip(1) {
                    let key = part.split('"').next().unwrap_or("");
                    if key.contains('.') && !key.contains(' ') && !catalog().contains_key(key) {
                        missing.push(format!("{}: {key}", entry.path().display()));
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "keys missing from the catalog: {missing:?}"
        );
    }
}
