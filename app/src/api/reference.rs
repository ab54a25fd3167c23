//! The REST API's reference, read from the OpenAPI document the server
//! generates from its handlers, in the shape the portal's reference page
//! shows: operations grouped by tag, their parameters, bodies and answers,
//! and the schemas they name.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::AppError;

/// Where the machine-readable document is served.
pub const OPENAPI_PATH: &str = "/api/v2.0/openapi.json";

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiReference {
    pub title: String,
    pub version: String,
    pub description: String,
    pub groups: Vec<ApiGroup>,
    pub schemas: Vec<ApiSchema>,
}

/// The operations sharing one tag, in document order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiGroup {
    pub name: String,
    pub operations: Vec<ApiOperation>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiOperation {
    /// Unique in the document; the page's anchor for it.
    pub id: String,
    /// Upper case: `GET`, `POST`, …
    pub method: String,
    pub path: String,
    pub summary: String,
    pub description: String,
    pub parameters: Vec<ApiParameter>,
    pub request_body: Option<ApiContent>,
    pub responses: Vec<ApiResponse>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiParameter {
    pub name: String,
    /// `path`, `query` or `header`.
    pub location: String,
    pub required: bool,
    pub type_name: String,
    pub description: String,
}

/// A body: its media type and the type of what it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiContent {
    pub media_type: String,
    pub type_name: String,
    /// The named schema the body is (or is a list of), for a link to it.
    pub schema: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiResponse {
    pub status: String,
    pub description: String,
    pub content: Option<ApiContent>,
    pub headers: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiSchema {
    pub name: String,
    pub description: String,
    /// For schemas that are not objects (an enum, a list, …).
    pub type_name: String,
    pub fields: Vec<ApiField>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiField {
    pub name: String,
    pub type_name: String,
    pub required: bool,
    pub description: String,
}

/// The reference the server built from its OpenAPI document at start-up,
/// handed to server functions as context.
#[cfg(feature = "ssr")]
#[derive(Clone, Debug)]
pub struct ServedApiReference(pub std::sync::Arc<ApiReference>);

#[server(prefix = "/portal/fn", endpoint = "api_reference")]
pub async fn get_api_reference() -> Result<ApiReference, AppError> {
    crate::api::session::require_user().await?;
    let reference = use_context::<ServedApiReference>().ok_or_else(|| {
        tracing::error!("the API reference was not provided to the portal");
        AppError::Internal
    })?;
    Ok(ApiReference::clone(&reference.0))
}

#[cfg(feature = "ssr")]
mod from_openapi {
    use serde_json::Value;

    use super::*;

    const METHODS: [&str; 6] = ["get", "put", "post", "delete", "head", "patch"];

    impl ApiReference {
        /// Reads an OpenAPI 3 document (as JSON). Parts it does not know are
        /// skipped rather than refused: the page shows what it can.
        pub fn from_openapi(document: &Value) -> Self {
            let info = &document["info"];
            let mut groups: Vec<ApiGroup> = Vec::new();
            for (path, item) in document["paths"].as_object().into_iter().flatten() {
                for method in METHODS {
                    let Some(operation) = item.get(method) else { continue };
                    let tag = operation["tags"][0].as_str().unwrap_or("other");
                    let operation = read_operation(path, method, item, operation);
                    match groups.iter_mut().find(|group| group.name == tag) {
                        Some(group) => group.operations.push(operation),
                        None => groups.push(ApiGroup { name: tag.to_owned(), operations: vec![operation] }),
                    }
                }
            }
            let schemas = document["components"]["schemas"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(name, schema)| read_schema(name, schema))
                .collect();
            Self {
                title: text(&info["title"]),
                version: text(&info["version"]),
                description: text(&info["description"]),
                groups,
                schemas,
            }
        }
    }

    fn read_operation(path: &str, method: &str, item: &Value, operation: &Value) -> ApiOperation {
        // Parameters may sit on the path item, shared by its operations.
        let parameters = item["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(operation["parameters"].as_array().into_iter().flatten())
            .map(|parameter| ApiParameter {
                name: text(&parameter["name"]),
                location: text(&parameter["in"]),
                required: parameter["required"].as_bool().unwrap_or(false),
                type_name: type_name(&parameter["schema"]),
                description: text(&parameter["description"]),
            })
            .collect();
        let mut responses: Vec<ApiResponse> = operation["responses"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(status, response)| ApiResponse {
                status: status.clone(),
                description: text(&response["description"]),
                content: read_content(&response["content"]),
                headers: response["headers"].as_object().map(|h| h.keys().cloned().collect()).unwrap_or_default(),
            })
            .collect();
        responses.sort_by(|a, b| a.status.cmp(&b.status));
        ApiOperation {
            id: operation["operationId"].as_str().map_or_else(|| format!("{method}-{path}"), str::to_owned),
            method: method.to_uppercase(),
            path: path.to_owned(),
            summary: text(&operation["summary"]),
            description: text(&operation["description"]),
            parameters,
            request_body: read_content(&operation["requestBody"]["content"]),
            responses,
        }
    }

    fn read_content(content: &Value) -> Option<ApiContent> {
        let (media_type, body) = content.as_object()?.iter().next()?;
        Some(ApiContent {
            media_type: media_type.clone(),
            type_name: type_name(&body["schema"]),
            schema: named_schema(&body["schema"]),
        })
    }

    fn read_schema(name: &str, schema: &Value) -> ApiSchema {
        let required: Vec<&str> =
            schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let fields = schema["properties"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(field, property)| ApiField {
                name: field.clone(),
                type_name: type_name(property),
                required: required.contains(&field.as_str()),
                description: text(&property["description"]),
            })
            .collect();
        ApiSchema {
            name: name.to_owned(),
            description: text(&schema["description"]),
            type_name: type_name(schema),
            fields,
        }
    }

    /// The schema a body refers to by name, directly or as a list of it.
    fn named_schema(schema: &Value) -> Option<String> {
        if let Some(reference) = schema["$ref"].as_str() {
            return reference.rsplit('/').next().map(str::to_owned);
        }
        if let Some(items) = schema.get("items") {
            return named_schema(items);
        }
        ["oneOf", "anyOf", "allOf"].iter().find_map(|key| schema[*key].as_array()?.iter().find_map(named_schema))
    }

    /// A short, readable type: `string (date-time)`, `Project[]`,
    /// `"db_auth" | "ldap_auth"`, `integer?` (nullable), `map<string, string>`.
    pub(super) fn type_name(schema: &Value) -> String {
        if let Some(reference) = schema["$ref"].as_str() {
            return reference.rsplit('/').next().unwrap_or(reference).to_owned();
        }
        for key in ["oneOf", "anyOf", "allOf"] {
            if let Some(variants) = schema[key].as_array() {
                let nullable = variants.iter().any(is_null);
                let names: Vec<String> = variants.iter().filter(|v| !is_null(v)).map(type_name).collect();
                let joined = names.join(" | ");
                return if nullable { format!("{joined}?") } else { joined };
            }
        }
        if let Some(values) = schema["enum"].as_array() {
            return values.iter().map(Value::to_string).collect::<Vec<_>>().join(" | ");
        }
        let (kind, nullable) = match &schema["type"] {
            Value::String(kind) => (kind.as_str(), false),
            Value::Array(kinds) => (
                kinds.iter().filter_map(Value::as_str).find(|k| *k != "null").unwrap_or("null"),
                kinds.iter().any(|k| k == "null"),
            ),
            _ => ("any", false),
        };
        let base = match kind {
            "array" => format!("{}[]", type_name(&schema["items"])),
            "object" => match &schema["additionalProperties"] {
                Value::Object(_) => format!("map<string, {}>", type_name(&schema["additionalProperties"])),
                _ => "object".to_owned(),
            },
            other => match schema["format"].as_str() {
                Some(format) => format!("{other} ({format})"),
                None => other.to_owned(),
            },
        };
        if nullable { format!("{base}?") } else { base }
    }

    fn is_null(schema: &Value) -> bool {
        schema["type"] == "null"
    }

    fn text(value: &Value) -> String {
        value.as_str().unwrap_or_default().to_owned()
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use serde_json::json;

    use super::{ApiReference, from_openapi::type_name};

    #[test]
    fn type_names_read_like_the_schema() {
        assert_eq!(type_name(&json!({"type": "string", "format": "date-time"})), "string (date-time)");
        assert_eq!(type_name(&json!({"type": ["integer", "null"]})), "integer?");
        assert_eq!(
            type_name(&json!({"type": "array", "items": {"$ref": "#/components/schemas/Project"}})),
            "Project[]"
        );
        assert_eq!(type_name(&json!({"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Quota"}]})), "Quota?");
        assert_eq!(
            type_name(&json!({"type": "string", "enum": ["db_auth", "ldap_auth"]})),
            "\"db_auth\" | \"ldap_auth\""
        );
        assert_eq!(
            type_name(&json!({"type": "object", "additionalProperties": {"type": "string"}})),
            "map<string, string>"
        );
    }

    #[test]
    fn operations_are_grouped_by_tag_with_their_parts() {
        let document = json!({
            "info": {"title": "T", "version": "1", "description": "D"},
            "paths": {
                "/a/{id}": {
                    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
                    "get": {
                        "tags": ["thing"], "operationId": "get_a", "summary": "Get",
                        "parameters": [{"name": "q", "in": "query", "schema": {"type": "string"}}],
                        "responses": {
                            "404": {"description": "Missing"},
                            "200": {"description": "Found", "headers": {"X-Total-Count": {}},
                                    "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/A"}}}}}
                        }
                    },
                    "delete": {"tags": ["thing"], "operationId": "delete_a", "responses": {}}
                },
                "/b": {"post": {"operationId": "post_b",
                    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/A"}}}},
                    "responses": {}}}
            },
            "components": {"schemas": {"A": {"type": "object", "required": ["name"],
                "properties": {"name": {"type": "string", "description": "Its name"}, "size": {"type": ["integer", "null"]}}}}}
        });
        let reference = ApiReference::from_openapi(&document);
        assert_eq!(reference.title, "T");
        let names: Vec<_> = reference.groups.iter().map(|g| (g.name.as_str(), g.operations.len())).collect();
        assert_eq!(names, [("thing", 2), ("other", 1)]);
        let get = &reference.groups[0].operations[0];
        assert_eq!((get.method.as_str(), get.id.as_str()), ("GET", "get_a"));
        let parameters: Vec<_> =
            get.parameters.iter().map(|p| (p.name.as_str(), p.location.as_str(), p.required)).collect();
        assert_eq!(parameters, [("id", "path", true), ("q", "query", false)]);
        assert_eq!(get.responses[0].status, "200");
        assert_eq!(get.responses[0].headers, ["X-Total-Count"]);
        let content = get.responses[0].content.as_ref().unwrap();
        assert_eq!((content.type_name.as_str(), content.schema.as_deref()), ("A[]", Some("A")));
        let post = &reference.groups[1].operations[0];
        assert_eq!(post.request_body.as_ref().unwrap().schema.as_deref(), Some("A"));
        let fields: Vec<_> =
            reference.schemas[0].fields.iter().map(|f| (f.name.as_str(), f.type_name.as_str(), f.required)).collect();
        assert_eq!(fields, [("name", "string", true), ("size", "integer?", false)]);
    }
}
