//! Repository descriptions: markdown its developers write, rendered to HTML
//! on the server for the portal. Whatever was typed can only become
//! formatting: raw HTML is shown as text, and links and images keep only
//! `http`, `https`, `mailto` or relative addresses (no `javascript:` or
//! `data:`).

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, html};

/// The longest description accepted, in bytes (a long README fits).
pub const MAX_DESCRIPTION_BYTES: usize = 64 * 1024;

/// Safe HTML for a description.
pub fn render_description(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
            Event::Start(Tag::Link { link_type, dest_url: safe_url(dest_url), title, id })
        }
        Event::Start(Tag::Image { link_type, dest_url, title, id }) => {
            Event::Start(Tag::Image { link_type, dest_url: safe_url(dest_url), title, id })
        }
        other => other,
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

/// The address if its scheme is one a link may use, else an empty one.
fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    // Browsers ignore whitespace and control characters inside a scheme
    // (`java\tscript:`), so they are ignored here too before looking at it.
    let cleaned: String = url.chars().filter(|c| !c.is_whitespace() && !c.is_control()).collect();
    let scheme_end = cleaned.find(':');
    let path_start = cleaned.find(['/', '?', '#']);
    let scheme = match (scheme_end, path_start) {
        (Some(colon), Some(path)) if path < colon => None,
        (Some(colon), _) => Some(cleaned[..colon].to_ascii_lowercase()),
        (None, _) => None,
    };
    match scheme.as_deref() {
        None | Some("http" | "https" | "mailto") => url,
        Some(_) => CowStr::Borrowed(""),
    }
}

#[cfg(test)]
mod tests {
    use super::render_description;

    #[test]
    fn markdown_becomes_formatting() {
        let html = render_description("# Base image\n\nUse **this** one: `podman pull x`.\n\n- a\n- b\n");
        assert!(html.contains("<h1>Base image</h1>"), "{html}");
        assert!(html.contains("<strong>this</strong>") && html.contains("<code>podman pull x</code>"), "{html}");
        assert!(html.contains("<li>a</li>"), "{html}");
    }

    #[test]
    fn raw_html_is_shown_as_text() {
        let html = render_description("<script>alert(1)</script>\n\nhi <img src=x onerror=alert(1)>");
        assert!(!html.contains("<script") && !html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;") && html.contains("&lt;img"), "{html}");
    }

    #[test]
    fn only_safe_link_schemes_survive() {
        for (markdown, kept) in [
            ("[docs](https://example.com/a?b#c)", true),
            ("[mail](mailto:ops@example.com)", true),
            ("[relative](../other/README.md)", true),
            ("[anchor](#usage)", true),
            ("[x](javascript:alert(1))", false),
            ("[x](JavaScript:alert(1))", false),
            ("[x](java&#9;script:alert(1))", false),
            ("[x](data:text/html;base64,PHNjcmlwdD4=)", false),
            ("![x](vbscript:msgbox)", false),
            ("<javascript:alert(1)>", false),
        ] {
            let html = render_description(markdown);
            let lowered = html.to_ascii_lowercase();
            let dangerous = ["javascript:", "data:", "vbscript:"].iter().any(|s| lowered.contains(&format!("=\"{s}")));
            assert!(!dangerous, "{markdown}: {html}");
            assert_eq!(html.contains("href=\"\"") || html.contains("src=\"\""), !kept, "{markdown}: {html}");
        }
    }
}
