//! Upstream pagination, declared per tool (`pagination:`) or inferred in zero-config mode.
//!
//! Styles: `cursor` (a request parameter fed from a JSONPath in the body), `offset` (offset/limit),
//! `page` (page/per_page), `link_header` (`Link: <...>; rel="next"`) and `next_url` (a URL in the body).
//! URLs are followed only on the upstream's own origin.
//!
//! Modes: `agent` returns one page and an opaque, signed `next_cursor` (see [`super::cursor`]); `collect`
//! follows pages up to `max_pages`, `max_items` and the token budget and returns the merged items, with
//! a `next_cursor` to continue when it stopped early. Either way every item is shaped on its own
//! ([`crate::shape::Shaper::shape_item`]) and budgets cut at item boundaries; a cut inside a page is
//! remembered in the cursor (`skip`), so a walk returns every item exactly once.

use serde_json::{Map, Value, json};

use super::cursor::{self, Binding, CursorState, Position};
use super::{CallContext, CallOutput, Caller, Progress, UpstreamResponse};
use crate::catalogue::output::{Pagination, PaginationMode, PaginationStyle};
use crate::classify::{FieldError, Outcome};
use crate::shape::compact_len;

/// Bytes of the token budget kept for the note (the cursor is measured).
const NOTE_RESERVE: usize = 120;

/// One page as read: its items, where the next page is (if anywhere), and a warning for the agent.
struct Page {
    items: Vec<Value>,
    next: Option<Position>,
    status: u16,
    warning: Option<String>,
}

/// Why a call returned fewer items than exist.
enum Stop {
    MaxPages(u64),
    MaxItems(usize),
    Budget(usize),
    PageBudget,
}

pub async fn run(
    caller: &Caller,
    tool_index: usize,
    paginator: &Pagination,
    mut arguments: Map<String, Value>,
    context: &CallContext,
    deadline: tokio::time::Instant,
) -> Result<CallOutput, Outcome> {
    let tool = &caller.catalogue.tools[tool_index];
    let origin = caller.origin(tool)?;
    let binding = Binding { tool: &tool.name, origin: &origin, caller: context.caller.as_deref() };
    let token = arguments.remove(&paginator.cursor_argument);
    let (arguments, mut position, mut skip) = match token {
        None | Some(Value::Null) => (arguments, Position::Start, 0),
        Some(Value::String(token)) => {
            let state = caller.cursor_key.open(&token, &binding, cursor::now_secs()).map_err(|error| {
                Outcome::InvalidArguments {
                    fields: vec![FieldError {
                        field: paginator.cursor_argument.clone(),
                        message: format!(
                            "{error}: pass a next_cursor this tool returned, or call without it to start again"
                        ),
                    }],
                }
            })?;
            let differing: Vec<FieldError> = arguments
                .iter()
                .filter(|(name, value)| state.arguments.get(*name) != Some(value))
                .map(|(name, _)| FieldError {
                    field: name.clone(),
                    message:
                        "differs from the query this cursor continues: leave it out, or start again without cursor"
                            .to_string(),
                })
                .collect();
            if !differing.is_empty() {
                return Err(Outcome::InvalidArguments { fields: differing });
            }
            (state.arguments, state.position, state.skip)
        }
        Some(_) => {
            return Err(Outcome::InvalidArguments {
                fields: vec![FieldError {
                    field: paginator.cursor_argument.clone(),
                    message: "must be a string".to_string(),
                }],
            });
        }
    };
    // The query every page repeats: the agent's arguments plus the default page size.
    let mut query = arguments.clone();
    if let (Some(limit_arg), Some(size)) = (&paginator.limit_arg, paginator.page_size) {
        query.entry(limit_arg.clone()).or_insert(json!(size));
    }
    let limit = paginator.limit_arg.as_ref().and_then(|a| query.get(a)).and_then(as_u64).or(paginator.page_size);

    let shaper = &caller.shapers[tool_index];
    let max_items = match (shaper.max_items(), paginator.max_items) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    // Room for the items: the budget less the cursor (measured on a stand-in of the same size) and a note.
    let cursor_room = {
        let expires = cursor::now_secs() + cursor::CURSOR_LIFETIME_SECS;
        let stand_in = CursorState { arguments: arguments.clone(), position: position.clone(), skip: 9_999, expires };
        caller.cursor_key.seal(&binding, &stand_in).len() + 64
    };
    let budget =
        shaper.max_tokens().map(|tokens| tokens.saturating_mul(4).saturating_sub(cursor_room + NOTE_RESERVE).max(1));
    let mut collected: Vec<Value> = Vec::new();
    let mut used = compact_len(&json!({"items": []}));
    let mut pages = 0u64;
    let mut status;
    let mut warnings: Vec<String> = Vec::new();
    let mut stop: Option<Stop> = None;
    let next: Option<(Position, usize)> = 'pages: loop {
        let page = fetch(caller, tool_index, paginator, &query, &position, limit, context, deadline).await?;
        pages += 1;
        status = page.status;
        warnings.extend(page.warning);
        for (index, item) in page.items.iter().enumerate().skip(skip) {
            if max_items.is_some_and(|max| collected.len() >= max) {
                stop = Some(Stop::MaxItems(collected.len()));
                break 'pages Some((position, index));
            }
            let shaped = shaper.shape_item(item);
            let cost = compact_len(&shaped) + usize::from(!collected.is_empty());
            if let Some(budget) = budget
                && !collected.is_empty()
                && used + cost > budget
            {
                stop = Some(if paginator.mode == PaginationMode::Agent {
                    Stop::PageBudget
                } else {
                    Stop::Budget(shaper.max_tokens().unwrap_or_default())
                });
                break 'pages Some((position, index));
            }
            used += cost;
            collected.push(shaped);
        }
        if let Some(progress) = &context.progress {
            let _ = progress.send(Progress {
                pages,
                items: collected.len() as u64,
                max_pages: (paginator.mode == PaginationMode::Collect).then_some(paginator.max_pages),
            });
        }
        skip = 0;
        let Some(following) = page.next else { break None };
        if max_items.is_some_and(|max| collected.len() >= max) {
            stop = Some(Stop::MaxItems(collected.len()));
            break Some((following, 0));
        }
        if pages >= paginator.max_pages {
            if paginator.mode == PaginationMode::Collect {
                stop = Some(Stop::MaxPages(pages));
            }
            break Some((following, 0));
        }
        position = following;
    };

    let token = next.map(|(position, skip)| {
        let expires = cursor::now_secs() + cursor::CURSOR_LIFETIME_SECS;
        caller.cursor_key.seal(&binding, &CursorState { arguments: arguments.clone(), position, skip, expires })
    });
    let mut notes: Vec<String> = Vec::new();
    match stop {
        Some(Stop::MaxPages(pages)) => notes.push(format!("stopped after {pages} pages (max_pages)")),
        Some(Stop::MaxItems(items)) => notes.push(format!("stopped at {items} items (max_items)")),
        Some(Stop::Budget(tokens)) => notes.push(format!("stopped at the ~{tokens} token budget")),
        Some(Stop::PageBudget) => notes.push(format!("showing {} items of this page (token budget)", collected.len())),
        None => {}
    }
    notes.extend(warnings);
    let mut page = Map::new();
    page.insert("items".to_string(), Value::Array(collected));
    if let Some(token) = &token {
        page.insert("next_cursor".to_string(), Value::String(token.clone()));
        if !shaper.is_json() {
            // Table and template texts do not carry the cursor; the note does.
            notes.push(format!("next_cursor: {token}"));
        }
    }
    let hint = if token.is_some() {
        format!("call again with {} set to next_cursor for more", paginator.cursor_argument)
    } else {
        "ask for fewer fields or a narrower filter".to_string()
    };
    shaper
        .render_page(Value::Object(page), notes, &hint, &arguments, status)
        .map(CallOutput::Shaped)
        .map_err(|error| Outcome::Misconfigured { detail: error.to_string() })
}

// Each argument is one part of a page request; a struct for them would be built once and used once.
#[allow(clippy::too_many_arguments)]
async fn fetch(
    caller: &Caller,
    tool_index: usize,
    paginator: &Pagination,
    query: &Map<String, Value>,
    position: &Position,
    limit: Option<u64>,
    context: &CallContext,
    deadline: tokio::time::Instant,
) -> Result<Page, Outcome> {
    let mut arguments = query.clone();
    let mut url = None;
    let set = |arguments: &mut Map<String, Value>, argument: &Option<String>, value: Value| {
        if let Some(argument) = argument {
            arguments.insert(argument.clone(), value);
        }
    };
    match position {
        Position::Start => {
            for (argument, value) in &paginator.first_values {
                arguments.entry(argument.clone()).or_insert_with(|| value.clone());
            }
            if paginator.style == PaginationStyle::Page && paginator.page_arg.is_some() {
                let page_arg = paginator.page_arg.clone().unwrap_or_default();
                arguments.entry(page_arg).or_insert(json!(paginator.first_page));
            }
        }
        Position::Cursor { c } => set(&mut arguments, &paginator.cursor_arg, json!(c)),
        Position::Offset { o } => set(&mut arguments, &paginator.offset_arg, json!(o)),
        Position::Page { p } => set(&mut arguments, &paginator.page_arg, json!(p)),
        // A next-page URL is a parsed URL's serialization (`same_origin_url`), carried in a signed
        // cursor: it parses.
        Position::Url { u } => {
            url =
                Some(url::Url::parse(u).map_err(|error| Outcome::Internal {
                    detail: format!("a next-page URL does not parse: {error}"),
                })?);
        }
    }
    let response = caller.send(tool_index, &arguments, url.as_ref(), context, deadline).await?;
    let mut body: Value = serde_json::from_slice(&response.body).map_err(|_| Outcome::InvalidResponse {
        reason: "a page of results is not JSON; paginated tools need JSON responses".to_string(),
    })?;
    let removed = crate::shape::clean::clean_value(&mut body, caller.catalogue.tools[tool_index].clean);
    caller.record_cleaned(tool_index, removed);
    let items = items(paginator, &body)?;
    let has_more =
        paginator.has_more.as_ref().and_then(|has_more| has_more.path.query(&body).exactly_one().ok().cloned());
    let no_more = matches!(has_more, Some(Value::Bool(false)));
    let mut warning = None;
    let next = match paginator.style {
        PaginationStyle::Cursor => paginator
            .next_cursor
            .as_ref()
            .and_then(|next_cursor| next_cursor.path.query(&body).first().cloned())
            .and_then(|value| match value {
                Value::String(c) if !c.is_empty() => Some(c),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .filter(|_| !no_more && !items.is_empty())
            .map(|c| Position::Cursor { c }),
        PaginationStyle::Offset => {
            let current = match position {
                Position::Offset { o } => *o,
                _ => paginator.offset_arg.as_ref().and_then(|a| arguments.get(a)).and_then(as_u64).unwrap_or(0),
            };
            let full = limit.is_none_or(|limit| items.len() as u64 >= limit);
            (!items.is_empty() && !no_more && full).then(|| Position::Offset { o: current + items.len() as u64 })
        }
        PaginationStyle::Page => {
            let current = match position {
                Position::Page { p } => *p,
                _ => paginator.page_arg.as_ref().and_then(|a| arguments.get(a)).and_then(as_u64).unwrap_or(0),
            };
            let full = limit.is_none_or(|limit| items.len() as u64 >= limit);
            (!items.is_empty() && !no_more && full).then(|| Position::Page { p: current + 1 })
        }
        PaginationStyle::LinkHeader => match response.link.as_deref().and_then(next_link) {
            Some(link) => same_origin_url(caller, tool_index, &response, &link, &mut warning),
            None => None,
        },
        PaginationStyle::NextUrl => {
            let link = paginator.next_url.as_ref().and_then(|next_url| next_url.path.query(&body).first().cloned());
            match link {
                Some(Value::String(link)) if !link.is_empty() && !no_more => {
                    same_origin_url(caller, tool_index, &response, &link, &mut warning)
                }
                _ => None,
            }
        }
    };
    // An upstream that points back at the page just read would loop forever.
    let next = next.filter(|next| next != position);
    Ok(Page { items, next, status: response.status, warning })
}

/// The items of a page: at `pagination.items` (one array node is the list; other nodes are the items),
/// else the body when it is an array, else the body's only array-valued property.
fn items(paginator: &Pagination, body: &Value) -> Result<Vec<Value>, Outcome> {
    if let Some(items) = &paginator.items {
        let nodes = items.path.query(body).all();
        return Ok(match nodes.as_slice() {
            [Value::Array(items)] => items.clone(),
            nodes => nodes.iter().map(|node| (*node).clone()).collect(),
        });
    }
    match body {
        Value::Array(items) => Ok(items.clone()),
        Value::Object(map) => {
            let mut arrays = map.values().filter_map(Value::as_array);
            match (arrays.next(), arrays.next()) {
                (Some(items), None) => Ok(items.clone()),
                _ => Err(Outcome::InvalidResponse {
                    reason: "the page has no single list of items; set pagination.items".to_string(),
                }),
            }
        }
        _ => Err(Outcome::InvalidResponse { reason: "a page of results is neither a list nor an object".to_string() }),
    }
}

/// The `rel="next"` target of a `Link` header (RFC 8288).
pub fn next_link(header: &str) -> Option<String> {
    for link in header.split(',') {
        let (target, params) = link.split_once(';').unwrap_or((link, ""));
        let Some(target) = target.trim().strip_prefix('<').and_then(|t| t.strip_suffix('>')) else { continue };
        let is_next = params.split(';').any(|param| {
            let Some((name, value)) = param.split_once('=') else { return false };
            name.trim().eq_ignore_ascii_case("rel")
                && value.trim().trim_matches('"').split_ascii_whitespace().any(|rel| rel.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return Some(target.to_string());
        }
    }
    None
}

/// A next-page URL resolved against the request's URL, kept only when on the upstream's origin.
fn same_origin_url(
    caller: &Caller,
    tool_index: usize,
    response: &UpstreamResponse,
    link: &str,
    warning: &mut Option<String>,
) -> Option<Position> {
    let tool = &caller.catalogue.tools[tool_index];
    let origin = caller.origin(tool).ok()?;
    let resolved = response.url.join(link).ok()?;
    if resolved.origin().ascii_serialization() == origin {
        Some(Position::Url { u: resolved.to_string() })
    } else {
        tracing::warn!(tool = %tool.name, "next page on another origin not followed");
        *warning = Some(format!(
            "the upstream's next page is on another origin ({}) and was not followed",
            resolved.origin().ascii_serialization()
        ));
        None
    }
}

fn as_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::next_link;

    #[test]
    fn link_headers_give_their_next_target() {
        let github =
            r#"<https://api.example/repos?page=3>; rel="next", <https://api.example/repos?page=9>; rel="last""#;
        assert_eq!(next_link(github).as_deref(), Some("https://api.example/repos?page=3"));
        assert_eq!(next_link(r#"</p?page=2>; rel="prev next""#).as_deref(), Some("/p?page=2"));
        assert_eq!(next_link(r#"</p?page=1>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
    }
}
