//! The words of `console::customer_assign`.

use super::Entry;

pub(crate) const WORDS: &[Entry] = &[
    ("assign.owner", "负责人", "Owner"),
    ("assign.department", "所属部门", "Department"),
    ("assign.contacts", "联系人", "Contacts"),
    (
        "assign.owner_help",
        "默认为录入人；只能选择您数据范围内的用户。",
        "Defaults to you; only users inside your data scope.",
    ),
    (
        "assign.department_help",
        "默认为负责人所在部门。",
        "Defaults to the owner's department.",
    ),
    ("assign.add_contact", "添加联系人", "Add a contact"),
    (
        "assign.remove_contact",
        "删除此联系人",
        "Remove this contact",
    ),
    ("contact.name", "姓名", "Name"),
    ("contact.title", "职务", "Position"),
    ("contact.mobile", "手机", "Mobile"),
    ("contact.phone", "电话", "Phone"),
    ("contact.email", "邮箱", "Email"),
];
