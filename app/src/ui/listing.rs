//! What every listing is made of: a table with its columns, keyset pager
//! links, and what an empty list says.

use leptos::prelude::*;
use leptos_router::components::A;

/// A column of a [`ListTable`]: its heading and from which screen width it shows.
#[derive(Clone, Copy, Debug)]
pub enum Column {
    Always(&'static str),
    /// From medium-width screens on.
    FromMedium(&'static str),
    /// From large screens on.
    FromLarge(&'static str),
    /// The row's buttons, named only for screen readers.
    Actions,
}

/// The table of a listing (projects, repositories, artifacts, members,
/// robots, log entries): a caption for screen readers, column headings,
/// and the rows as children.
#[component]
pub fn ListTable(
    caption: &'static str,
    columns: &'static [Column],
    /// Space above the table.
    #[prop(default = "mt-6")]
    spacing: &'static str,
    /// Rows whose cells hold several lines line up at the top.
    #[prop(optional)]
    top_aligned: bool,
    children: Children,
) -> impl IntoView {
    let heading = |column: &Column| {
        let (label, class) = match *column {
            Column::Always(label) => (label, "px-4 py-2 font-medium"),
            Column::FromMedium(label) => (label, "hidden px-4 py-2 font-medium md:table-cell"),
            Column::FromLarge(label) => (label, "hidden px-4 py-2 font-medium lg:table-cell"),
            Column::Actions => {
                return view! { <th scope="col" class="px-4 py-2 font-medium"><span class="sr-only">"Actions"</span></th> }
                    .into_any();
            }
        };
        view! { <th scope="col" class=class>{label}</th> }.into_any()
    };
    let body = if top_aligned {
        "divide-y divide-slate-100 align-top dark:divide-slate-800"
    } else {
        "divide-y divide-slate-100 dark:divide-slate-800"
    };
    view! {
        <div class=format!("{spacing} overflow-x-auto rounded-lg border border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900")>
            <table class="w-full text-left text-sm">
                <caption class="sr-only">{caption}</caption>
                <thead class="border-b border-slate-200 text-xs uppercase tracking-wide text-slate-500 dark:border-slate-800 dark:text-slate-400">
                    <tr>{columns.iter().map(heading).collect_view()}</tr>
                </thead>
                <tbody class=body>{children()}</tbody>
            </table>
        </div>
    }
}

/// The `href` a [`Pager`] needs for a list at `base` filtered by `filters`
/// (`key=value` pairs kept on every page; empty values left out).
pub fn page_links(base: String, filters: Vec<(&'static str, Option<String>)>) -> impl Fn(&str, &str) -> String {
    use leptos_router::location::Url;
    move |direction, cursor| {
        let mut query = String::new();
        for (key, value) in &filters {
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                query.push_str(&format!("{key}={}&", Url::escape(value)));
            }
        }
        format!("{base}?{query}{direction}={}", Url::escape(cursor))
    }
}

/// Previous/next links for a keyset listing; `href` builds the link for
/// `("after" | "before", cursor)`, keeping the page's other parameters.
#[component]
pub fn Pager(
    total: i64,
    shown: usize,
    previous: Option<String>,
    next: Option<String>,
    href: impl Fn(&str, &str) -> String + 'static,
) -> impl IntoView {
    let link = "rounded-md border border-slate-300 px-3 py-1.5 hover:bg-slate-50 dark:border-slate-700 dark:hover:bg-slate-800";
    let disabled =
        "rounded-md border border-slate-200 px-3 py-1.5 text-slate-400 dark:border-slate-800 dark:text-slate-600";
    view! {
        <nav aria-label="Pages" class="mt-4 flex items-center justify-between text-sm">
            <span class="text-slate-500 dark:text-slate-400" data-testid="total">
                {format!("{shown} shown of {total}")}
            </span>
            <span class="flex gap-2">
                {match previous {
                    Some(cursor) => view! { <A href=href("before", &cursor) attr:class=link attr:rel="prev">"Previous"</A> }.into_any(),
                    None => view! { <span class=disabled aria-disabled="true">"Previous"</span> }.into_any(),
                }}
                {match next {
                    Some(cursor) => view! { <A href=href("after", &cursor) attr:class=link attr:rel="next">"Next"</A> }.into_any(),
                    None => view! { <span class=disabled aria-disabled="true">"Next"</span> }.into_any(),
                }}
            </span>
        </nav>
    }
}

/// What an empty list says, and what to do about it.
#[component]
pub fn EmptyState(title: String, hint: String, #[prop(optional)] children: Option<Children>) -> impl IntoView {
    view! {
        <div class="rounded-lg border border-dashed border-slate-300 px-6 py-10 text-center dark:border-slate-700" data-testid="empty-state">
            <p class="font-medium">{title}</p>
            <p class="mt-1 text-sm text-slate-500 dark:text-slate-400">{hint}</p>
            {children.map(|children| view! { <div class="mt-4">{children()}</div> })}
        </div>
    }
}
