//! The error answers every operation can give, added to the OpenAPI document in one place
//! so that no operation leaves a status undocumented: 401/403 for operations behind a
//! token, 404 where the path names a record, 409 for writes (a stale version or a
//! uniqueness conflict), 413 and 422 for operations that take input, 429 where a rate
//! limit applies. All are RFC 9457 problem+json.

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Response, ResponseBuilder};

const PROBLEM: &str = "application/problem+json";

/// Operations that answer 429 when a caller goes over its rate limit.
const RATE_LIMITED: &[&str] = &["/api/v1/auth/login", "/api/v1/duplicates/check"];

fn problem(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                PROBLEM,
                Content::new(Some(Ref::from_schema_name("Problem"))),
            )
            .build(),
    )
}

fn add(op: &mut Operation, status: &str, description: &str) {
    op.responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| problem(description));
}

fn document(path: &str, write: bool, op: &mut Operation) {
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let has_body = op.request_body.is_some();
    if secured {
        add(op, "401", "未登录或令牌无效 / missing or invalid token");
        add(op, "403", "没有权限 / the caller lacks the permission");
    }
    if path.contains('{') {
        add(
            op,
            "404",
            "不存在或不在数据范围内 / not found or outside the data scope",
        );
    }
    if write {
        add(
            op,
            "409",
            "版本冲突或唯一性冲突 / stale version or uniqueness conflict",
        );
    }
    if has_body {
        add(op, "413", "请求体过大 / request body too large");
    }
    if has_body || has_params || path.contains('{') {
        add(
            op,
            "422",
            "输入无效，fields 列出字段与规则 / invalid input, see fields",
        );
    }
    if RATE_LIMITED.contains(&path) {
        add(
            op,
            "429",
            "请求过于频繁，见 Retry-After / too many requests, see Retry-After",
        );
    }
}

fn each_operation(item: &mut PathItem, mut f: impl FnMut(bool, &mut Operation)) {
    for (write, op) in [
        (false, item.get.as_mut()),
        (true, item.post.as_mut()),
        (true, item.put.as_mut()),
        (true, item.patch.as_mut()),
        (true, item.delete.as_mut()),
    ] {
        if let Some(op) = op {
            f(write, op);
        }
    }
}

/// Add the error answers to every operation of `doc` (keeping those already documented).
pub(crate) fn document_errors(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        each_operation(item, |write, op| document(path, write, op));
    }
}
