//! Harbor's list conventions: `page` (from 1) and `page_size` (at most
//! 100), the total in `X-Total-Count` and the neighbouring pages in `Link`;
//! `q` filters (`key=value`, `key=~fuzzy`, comma-separated) and `sort`
//! (`key` or `-key`), each endpoint naming the keys it accepts.

use app::core::db::{self, Window};
use axum::{
    Json,
    extract::{FromRequestParts, Path, Query},
    http::{HeaderMap, HeaderName, HeaderValue, header, request::Parts},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use super::error::{ApiError, ApiResult};

pub const MAX_PAGE_SIZE: u32 = 100;
const DEFAULT_PAGE_SIZE: u32 = 10;

#[derive(Clone, Debug, Default, Deserialize)]
pub struct PageQuery {
    #[serde(default, deserialize_with = "empty_is_absent")]
    pub page: Option<u32>,
    #[serde(default, deserialize_with = "empty_is_absent")]
    pub page_size: Option<u32>,
}

/// A number, where an empty value (`?page=&page_size=`, as some Harbor
/// clients send) means the parameter was not given, as Harbor reads it.
fn empty_is_absent<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    let raw: Option<String> = Option::deserialize(deserializer)?;
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(number) => number.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

/// Path parameters, refused in Harbor's error shape when unreadable (an
/// id that is not a number, or too large for one).
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| Self(value))
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))
    }
}

/// Query parameters, refused in Harbor's error shape when unreadable.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Query::try_from_uri(&parts.uri)
            .map(|Query(query)| Self(query))
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))
    }
}

/// A checked page request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub number: u32,
    pub size: u32,
}

impl Page {
    pub fn from_query(query: &PageQuery) -> ApiResult<Self> {
        let number = query.page.unwrap_or(1);
        let size = query.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if number == 0 {
            return Err(ApiError::bad_request("page: pages are numbered from 1"));
        }
        if size == 0 || size > MAX_PAGE_SIZE {
            return Err(ApiError::bad_request(format!("page_size: must be between 1 and {MAX_PAGE_SIZE}")));
        }
        Ok(Self { number, size })
    }

    pub fn offset(self) -> u32 {
        (self.number - 1).saturating_mul(self.size)
    }

    /// The rows this page shows, as the core asks for them.
    pub fn window(self) -> Window {
        Window::new(self.offset(), self.size)
    }

    /// A list's answer: the page's items as JSON, each shown by `view`,
    /// with [`Self::headers`].
    pub fn respond<T, V: Serialize>(
        self,
        listed: db::Page<T>,
        path: &str,
        carried: &[(&str, Option<&str>)],
        view: impl FnMut(T) -> V,
    ) -> Response {
        let headers = self.headers(listed.total, path, carried);
        (headers, Json(listed.items.into_iter().map(view).collect::<Vec<V>>())).into_response()
    }

    /// `X-Total-Count` and, when there are neighbours, `Link` for a list
    /// at `path`, carrying the request's other query parameters that were given.
    pub fn headers(self, total: i64, path: &str, carried: &[(&str, Option<&str>)]) -> HeaderMap {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in carried {
            if let Some(value) = value {
                query.append_pair(key, value);
            }
        }
        let other = query.finish();
        let mut headers = HeaderMap::new();
        headers.insert(HeaderName::from_static("x-total-count"), HeaderValue::from(total.max(0)));
        let link_to = |page: u32| {
            let extra = if other.is_empty() { String::new() } else { format!("&{other}") };
            format!("<{path}?page={page}&page_size={}{extra}>", self.size)
        };
        let mut links = Vec::new();
        if self.number > 1 {
            links.push(format!("{}; rel=\"prev\"", link_to(self.number - 1)));
        }
        if i64::from(self.number) * i64::from(self.size) < total {
            links.push(format!("{}; rel=\"next\"", link_to(self.number + 1)));
        }
        if !links.is_empty()
            && let Ok(value) = HeaderValue::from_str(&links.join(" , "))
        {
            headers.insert(header::LINK, value);
        }
        headers
    }
}

/// One condition of a `q` parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    Exact(String),
    Fuzzy(String),
}

/// Reads `q` (`name=~foo,public=true`), refusing keys outside `allowed`.
pub fn parse_q(q: Option<&str>, allowed: &[&str]) -> ApiResult<Vec<(String, Condition)>> {
    let Some(q) = q.filter(|q| !q.is_empty()) else {
        return Ok(Vec::new());
    };
    q.split(',')
        .map(|part| {
            let (key, value) =
                part.split_once('=').ok_or_else(|| ApiError::bad_request(format!("q: {part:?} is not key=value")))?;
            let key = key.trim();
            if !allowed.contains(&key) {
                return Err(ApiError::bad_request(format!("q: cannot filter by {key:?}; use one of {allowed:?}")));
            }
            let condition = match value.strip_prefix('~') {
                Some(fuzzy) => Condition::Fuzzy(fuzzy.to_owned()),
                None => Condition::Exact(value.to_owned()),
            };
            Ok((key.to_owned(), condition))
        })
        .collect()
}

/// The query of a list filtered by name: a page and [`NameFilter`]'s
/// parameters (`name` is Harbor's older filter: names containing it).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct NamedListQuery {
    pub page: Option<u32>,
    pub page_size: Option<u32>,
    pub q: Option<String>,
    pub name: Option<String>,
}

impl NamedListQuery {
    pub fn page(&self) -> ApiResult<Page> {
        Page::from_query(&PageQuery { page: self.page, page_size: self.page_size })
    }

    pub fn filter(&self) -> ApiResult<NameFilter> {
        NameFilter::read(self.q.as_deref(), self.name.as_deref())
    }

    /// The parameters the `Link` header carries to the neighbouring pages.
    pub fn carried(&self) -> [(&'static str, Option<&str>); 2] {
        [("q", self.q.as_deref()), ("name", self.name.as_deref())]
    }
}

/// A list's name filter as Harbor takes it: `q=name=<exact>`,
/// `q=name=~<part>`, or the older `name=<part>`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameFilter {
    contains: Option<String>,
    exact: Option<String>,
}

impl NameFilter {
    pub fn read(q: Option<&str>, name: Option<&str>) -> ApiResult<Self> {
        let mut filter = Self { contains: name.map(str::to_owned), exact: None };
        for (_, condition) in parse_q(q, &["name"])? {
            match condition {
                Condition::Fuzzy(text) => filter.contains = Some(text),
                Condition::Exact(text) => filter.exact = Some(text),
            }
        }
        Ok(filter)
    }

    /// What the core is asked for: names containing this.
    pub fn contains(&self) -> Option<&str> {
        self.exact.as_deref().or(self.contains.as_deref())
    }

    /// Keeps only the row named exactly, when that was asked: the core's
    /// contains-match narrowed the rows, this keeps the one.
    pub fn narrow<T>(&self, listed: &mut db::Page<T>, name: impl Fn(&T) -> &str) {
        if let Some(exact) = &self.exact {
            listed.items.retain(|item| name(item) == exact);
            listed.total = listed.items.len() as i64;
        }
    }
}

/// Reads `sort` (`name` or `-name`), refusing keys outside `allowed`;
/// returns the key and whether it is descending.
pub fn parse_sort<'a>(sort: Option<&'a str>, allowed: &[&str]) -> ApiResult<Option<(&'a str, bool)>> {
    let Some(sort) = sort.filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let (key, descending) = match sort.strip_prefix('-') {
        Some(key) => (key, true),
        None => (sort, false),
    };
    if !allowed.contains(&key) {
        return Err(ApiError::bad_request(format!("sort: cannot sort by {key:?}; use one of {allowed:?}")));
    }
    Ok(Some((key, descending)))
}

/// Reads a JSON number that is a whole number, written as an integer or
/// (as some clients write integers) with a zero fraction: `2` or `2.0`.
pub fn whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    let number = serde_json::Number::deserialize(deserializer)?;
    number
        .as_i64()
        .or_else(|| number.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64))
        .ok_or_else(|| serde::de::Error::custom(format!("{number} is not a whole number")))
}

/// [`whole_number`] for optional fields.
pub fn optional_whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    Option::<serde_json::Number>::deserialize(deserializer)?
        .map(|number| whole_number(serde_json::Value::Number(number)).map_err(serde::de::Error::custom))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_filters() {
        let exact = NameFilter::read(Some("name=peer"), None).unwrap();
        assert_eq!(exact.contains(), Some("peer"));
        let mut listed = db::Page { items: vec!["peer", "peer-2"], total: 2, has_previous: false, has_next: false };
        exact.narrow(&mut listed, |name| name);
        assert_eq!((listed.items, listed.total), (vec!["peer"], 1));
        assert_eq!(NameFilter::read(Some("name=~pe"), Some("old")).unwrap().contains(), Some("pe"));
        assert_eq!(NameFilter::read(None, Some("old")).unwrap().contains(), Some("old"));
        assert!(NameFilter::read(Some("owner=1"), None).is_err());
    }

    #[test]
    fn pages_and_links() {
        let page = Page::from_query(&PageQuery { page: Some(2), page_size: Some(10) }).unwrap();
        assert_eq!(page.offset(), 10);
        let headers = page.headers(35, "/api/v2.0/projects", &[("name", Some("a")), ("q", None)]);
        assert_eq!(headers["x-total-count"], "35");
        assert_eq!(
            headers[header::LINK],
            "</api/v2.0/projects?page=1&page_size=10&name=a>; rel=\"prev\" , </api/v2.0/projects?page=3&page_size=10&name=a>; rel=\"next\""
        );
        let last = Page { number: 4, size: 10 }.headers(35, "/p", &[]);
        assert_eq!(last[header::LINK], "</p?page=3&page_size=10>; rel=\"prev\"");
        assert!(Page::from_query(&PageQuery { page: Some(0), page_size: None }).is_err());
        assert!(Page::from_query(&PageQuery { page: None, page_size: Some(101) }).is_err());
    }

    #[test]
    fn q_and_sort_use_allowlists() {
        let q = parse_q(Some("name=~dev,public=true"), &["name", "public"]).unwrap();
        assert_eq!(q[0], ("name".into(), Condition::Fuzzy("dev".into())));
        assert_eq!(q[1], ("public".into(), Condition::Exact("true".into())));
        assert!(parse_q(Some("owner_id=1"), &["name"]).is_err());
        assert!(parse_q(Some("name"), &["name"]).is_err());
        assert_eq!(
            parse_sort(Some("-creation_time"), &["name", "creation_time"]).unwrap(),
            Some(("creation_time", true))
        );
        assert!(parse_sort(Some("password"), &["name"]).is_err());
    }

    #[test]
    fn whole_numbers_may_carry_a_zero_fraction() {
        let read = |json: &str| whole_number(&mut serde_json::Deserializer::from_str(json));
        assert_eq!(read("2").unwrap(), 2);
        assert_eq!(read("2.0").unwrap(), 2);
        assert_eq!(read("-1").unwrap(), -1);
        assert!(read("2.5").is_err());
        assert!(read("\"2\"").is_err());
    }
}
