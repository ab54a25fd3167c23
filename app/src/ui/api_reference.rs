//! The REST API's reference, rendered from the served OpenAPI document:
//! a table of contents by tag, every operation with its parameters, body and
//! answers, and the schemas they use. A filter narrows the operations once
//! the page is interactive; before that, everything is shown.

use leptos::prelude::*;
use leptos_meta::Title;

use super::layout::ErrorBanner;
use crate::api::reference::{
    ApiContent, ApiGroup, ApiOperation, ApiReference, ApiSchema, OPENAPI_PATH, get_api_reference,
};

#[component]
pub fn ApiReferencePage() -> impl IntoView {
    let reference = Resource::new(|| (), |_| get_api_reference());
    view! {
        <Title text="API reference" />
        <Suspense fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match reference.await {
                    Ok(reference) => view! { <Reference reference /> }.into_any(),
                    Err(error) => view! { <ErrorBanner error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Reference(reference: ApiReference) -> AnyView {
    let (filter, set_filter) = signal(String::new());
    let operation_count: usize = reference.groups.iter().map(|g| g.operations.len()).sum();
    let toc = reference.groups.clone();
    view! {
        <div class="flex flex-wrap items-baseline justify-between gap-2">
            <h1 class="text-2xl font-semibold tracking-tight">"API reference"</h1>
            <a
                href=OPENAPI_PATH
                class="text-sm text-sky-700 underline dark:text-sky-300"
                data-testid="openapi-download"
            >
                "OpenAPI document (JSON)"
            </a>
        </div>
        <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">
            {format!("{} {} · {operation_count} operations. ", reference.title, reference.version)}
            {reference.description.clone()}
        </p>
        <div class="mt-4">
            <label for="api-filter" class="block text-sm font-medium">"Filter operations"</label>
            <input
                id="api-filter"
                type="search"
                placeholder="Path, method or summary, e.g. robots"
                class="mt-1 w-full max-w-md rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-900"
                on:input=move |ev| set_filter.set(event_target_value(&ev))
                prop:value=filter
            />
        </div>
        <div class="mt-6 flex gap-8">
            <TableOfContents groups=toc />
            <div class="min-w-0 flex-1 space-y-10">
                {reference
                    .groups
                    .into_iter()
                    .map(|group| {
                        view! {
                            <section id=format!("tag-{}", group.name) aria-labelledby=format!("tag-{}-title", group.name)>
                                <h2 id=format!("tag-{}-title", group.name) class="text-lg font-semibold capitalize">{group.name.clone()}</h2>
                                <div class="mt-3 space-y-4">
                                    {group.operations.into_iter().map(|operation| view! { <Operation operation filter /> }).collect_view()}
                                </div>
                            </section>
                        }
                    })
                    .collect_view()}
                <Schemas schemas=reference.schemas />
            </div>
        </div>
    }
    .into_any()
}

/// Links to every operation, by tag, beside the reference on wide screens.
#[component]
fn TableOfContents(groups: Vec<ApiGroup>) -> AnyView {
    view! {
            <nav aria-label="Operations" class="hidden w-56 shrink-0 lg:block">
                <ul class="sticky top-4 max-h-[80vh] space-y-3 overflow-y-auto text-sm">
                    {groups
                        .into_iter()
                        .map(|group| {
                            view! {
                                <li>
                                    <a href=format!("#tag-{}", group.name) class="font-medium">{group.name.clone()}</a>
                                    <ul class="mt-1 space-y-0.5 border-l border-slate-200 pl-2 dark:border-slate-800">
                                        {group
                                            .operations
                                            .into_iter()
                                            .map(|op| {
                                                view! {
                                                    <li>
                                                        <a href=format!("#{}", op.id) class="block truncate text-slate-600 hover:text-sky-700 dark:text-slate-400 dark:hover:text-sky-300">
                                                            <span class="font-mono text-xs">{op.method}</span>
                                                            " "
                                                            {op.path.trim_start_matches("/api/v2.0").to_owned()}
                                                        </a>
                                                    </li>
                                                }
                                            })
                                            .collect_view()}
                                    </ul>
                                </li>
                            }
                        })
                        .collect_view()}
                    <li><a href="#schemas" class="font-medium">"Schemas"</a></li>
                </ul>
            </nav>
    }
    .into_any()
}

#[component]
fn Operation(operation: ApiOperation, filter: ReadSignal<String>) -> AnyView {
    let haystack =
        format!("{} {} {} {}", operation.method, operation.path, operation.summary, operation.id).to_lowercase();
    let hidden = move || {
        let needle = filter.get().trim().to_lowercase();
        !needle.is_empty() && !needle.split_whitespace().all(|word| haystack.contains(word))
    };
    let ApiOperation { id, method, path, summary, description, parameters, request_body, responses } = operation;
    view! {
        <article
            id=id
            data-testid="api-operation"
            class="rounded-lg border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900"
            class:hidden=hidden
        >
            <h3 class="flex flex-wrap items-center gap-2">
                <span class=format!("rounded px-2 py-0.5 font-mono text-xs font-semibold {}", method_colour(&method))>{method.clone()}</span>
                <code class="break-all font-mono text-sm">{path}</code>
            </h3>
            {(!summary.is_empty()).then(|| view! { <p class="mt-2 text-sm font-medium">{summary}</p> })}
            {(!description.is_empty()).then(|| view! { <p class="mt-1 whitespace-pre-line text-sm text-slate-600 dark:text-slate-400">{description}</p> })}
            {(!parameters.is_empty()).then(|| {
                view! {
                    <Table caption="Parameters" headers=&["Name", "In", "Type", "Description"]>
                        {parameters
                            .into_iter()
                            .map(|p| {
                                view! {
                                    <tr>
                                        <td class="py-1 pr-3 font-mono">{p.name}{p.required.then_some(" *")}</td>
                                        <td class="py-1 pr-3">{p.location}</td>
                                        <td class="py-1 pr-3 font-mono text-xs">{p.type_name}</td>
                                        <td class="py-1">{p.description}</td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </Table>
                }
            })}
            {request_body.map(|body| {
                view! {
                    <p class="mt-3 text-sm">
                        <span class="font-medium">"Request body: "</span>
                        <Content content=body />
                    </p>
                }
            })}
            <Table caption="Responses" headers=&["Status", "Description", "Body", "Headers"]>
                {responses
                    .into_iter()
                    .map(|r| {
                        view! {
                            <tr>
                                <td class="py-1 pr-3 font-mono">{r.status}</td>
                                <td class="py-1 pr-3">{r.description}</td>
                                <td class="py-1 pr-3">{r.content.map(|content| view! { <Content content /> })}</td>
                                <td class="py-1 font-mono text-xs">{r.headers.join(", ")}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </Table>
        </article>
    }
    .into_any()
}

/// A body's type, linked to its schema when it has a named one.
#[component]
fn Content(content: ApiContent) -> impl IntoView {
    let type_name = match content.schema {
        Some(schema) => view! {
            <a href=format!("#schema-{schema}") class="font-mono text-xs text-sky-700 underline dark:text-sky-300">{content.type_name}</a>
        }
        .into_any(),
        None => view! { <span class="font-mono text-xs">{content.type_name}</span> }.into_any(),
    };
    view! {
        {type_name}
        <span class="ml-1 text-xs text-slate-500 dark:text-slate-400">{format!("({})", content.media_type)}</span>
    }
}

#[component]
fn Schemas(schemas: Vec<ApiSchema>) -> AnyView {
    view! {
        <section id="schemas" aria-labelledby="schemas-title">
            <h2 id="schemas-title" class="text-lg font-semibold">"Schemas"</h2>
            <div class="mt-3 space-y-4">
                {schemas
                    .into_iter()
                    .map(|schema| {
                        view! {
                            <article
                                id=format!("schema-{}", schema.name)
                                data-testid="api-schema"
                                class="rounded-lg border border-slate-200 bg-white p-4 dark:border-slate-800 dark:bg-slate-900"
                            >
                                <h3 class="font-mono text-sm font-semibold">{schema.name.clone()}</h3>
                                {(!schema.description.is_empty()).then(|| view! { <p class="mt-1 text-sm text-slate-600 dark:text-slate-400">{schema.description.clone()}</p> })}
                                {if schema.fields.is_empty() {
                                    view! { <p class="mt-1 font-mono text-xs">{schema.type_name}</p> }.into_any()
                                } else {
                                    view! {
                                        <Table caption="Fields" headers=&["Field", "Type", "Description"]>
                                            {schema
                                                .fields
                                                .into_iter()
                                                .map(|f| {
                                                    view! {
                                                        <tr>
                                                            <td class="py-1 pr-3 font-mono">{f.name}{f.required.then_some(" *")}</td>
                                                            <td class="py-1 pr-3 font-mono text-xs">{f.type_name}</td>
                                                            <td class="py-1">{f.description}</td>
                                                        </tr>
                                                    }
                                                })
                                                .collect_view()}
                                        </Table>
                                    }
                                    .into_any()
                                }}
                            </article>
                        }
                    })
                    .collect_view()}
            </div>
        </section>
    }
    .into_any()
}

/// A small table under a caption; `*` marks required names.
#[component]
fn Table(caption: &'static str, headers: &'static [&'static str], children: Children) -> AnyView {
    view! {
        <div class="mt-3 overflow-x-auto">
            <table class="w-full text-left text-sm">
                <caption class="mb-1 text-left text-xs font-medium uppercase tracking-wide text-slate-500 dark:text-slate-400">{caption}</caption>
                <thead class="border-b border-slate-200 text-xs text-slate-500 dark:border-slate-800 dark:text-slate-400">
                    <tr>{headers.iter().map(|h| view! { <th scope="col" class="py-1 pr-3 font-medium">{*h}</th> }).collect_view()}</tr>
                </thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">{children()}</tbody>
            </table>
        </div>
    }
    .into_any()
}

fn method_colour(method: &str) -> &'static str {
    match method {
        "GET" | "HEAD" => "bg-sky-100 text-sky-800 dark:bg-sky-900 dark:text-sky-200",
        "POST" => "bg-emerald-100 text-emerald-800 dark:bg-emerald-900 dark:text-emerald-200",
        "PUT" | "PATCH" => "bg-amber-100 text-amber-800 dark:bg-amber-900 dark:text-amber-200",
        "DELETE" => "bg-red-100 text-red-800 dark:bg-red-900 dark:text-red-200",
        _ => "bg-slate-100 text-slate-800 dark:bg-slate-800 dark:text-slate-200",
    }
}
