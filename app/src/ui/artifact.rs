//! One artifact: its tags and pull commands, the image config (platform,
//! entrypoint, command, environment, labels, ports), the build history,
//! the layers, an index's images with their platforms, the artifacts
//! attached to it (signatures, SBOMs, …) and the manifest itself.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::{
    components::{Breadcrumbs, CARD, CopyButton, timestamp},
    format::{self, short_digest},
    layout::ErrorBanner,
    project::CommandLine,
};
use crate::api::artifacts::{ArtifactView, BlobItem, ImageConfigView, get_artifact};

#[component]
pub fn ArtifactPage(name: String, digest: String) -> impl IntoView {
    let (repository, digest_value) = (name.clone(), digest.clone());
    let artifact = Resource::new(move || (repository.clone(), digest_value.clone()), |(r, d)| get_artifact(r, d));
    let project = name.split('/').next().unwrap_or_default().to_owned();
    let repository_href = format!("/projects/{}", name.replacen('/', "/repositories/", 1));
    view! {
        <Title text=format!("{name}@{}", short_digest(&digest)) />
        <Breadcrumbs crumbs=vec![
            ("Projects".to_owned(), Some("/projects".to_owned())),
            (project.clone(), Some(format!("/projects/{project}"))),
            ("Repositories".to_owned(), Some(format!("/projects/{project}/repositories"))),
            (name.clone(), Some(repository_href.clone())),
            (short_digest(&digest), None),
        ] />
        <Suspense fallback=|| view! { <p class="text-sm text-slate-500">"Loading…"</p> }>
            {move || {
                let repository_href = repository_href.clone();
                Suspend::new(async move {
                    match artifact.await {
                        Ok(view) => view! { <ArtifactDetails view repository_href /> }.into_any(),
                        Err(error) => view! { <ErrorBanner error /> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

#[component]
fn ArtifactDetails(view: ArtifactView, repository_href: String) -> AnyView {
    let ArtifactView { repository, registry_host, item, artifact_type, manifest, config, layers, children, referrers } =
        view;
    // Links to other artifacts of this repository (an index's images, referrers).
    let children_base = format!("{repository_href}/artifacts/");
    let referrers_base = children_base.clone();
    let pulls: Vec<String> = item
        .tags
        .iter()
        .map(|tag| format!("podman pull {registry_host}/{repository}:{tag}"))
        .chain(std::iter::once(format!("podman pull {registry_host}/{repository}@{}", item.digest)))
        .collect();
    view! {
        <div class="flex flex-wrap items-center gap-3">
            <h1 class="font-mono text-xl font-semibold" title=item.digest.clone()>{short_digest(&item.digest)}</h1>
            <span class="rounded-full bg-sky-100 px-2 py-0.5 text-xs font-medium text-sky-800 dark:bg-sky-900 dark:text-sky-200" data-testid="artifact-kind">
                {item.kind.clone()}
            </span>
        </div>
        <dl class="mt-4 grid gap-4 sm:grid-cols-2 lg:grid-cols-4">
            <Fact label="Digest">
                <span class="break-all font-mono text-xs" data-testid="artifact-digest">{item.digest.clone()}</span>
                <div class="mt-1"><CopyButton text=item.digest.clone() label="Copy digest" compact=true /></div>
            </Fact>
            <Fact label="Tags">
                <span data-testid="artifact-tags">{if item.tags.is_empty() { "none".to_owned() } else { item.tags.join(", ") }}</span>
            </Fact>
            <Fact label="Size"><span data-testid="artifact-size">{format::bytes(item.size.max(0) as u64)}</span></Fact>
            <Fact label="Pushed">{timestamp(item.pushed_at)}</Fact>
            <Fact label="Media type"><span class="break-all font-mono text-xs">{item.media_type.clone()}</span></Fact>
            {artifact_type.map(|t| view! { <Fact label="Artifact type"><span class="break-all font-mono text-xs">{t}</span></Fact> })}
        </dl>
        <Section title="Pull">
            {pulls.into_iter().map(|command| view! { <CommandLine command /> }).collect_view()}
        </Section>
        {config.map(|config| view! { <ConfigSection config /> })}
        {(!layers.is_empty()).then(|| view! { <LayersSection layers /> })}
        {(!children.is_empty()).then(move || view! {
            <Section title="Images in this index">
                <Table headers=&["Platform", "Digest", "Size"] testid="children">
                    {children
                        .into_iter()
                        .map(move |child| view! {
                            <tr>
                                <td class="py-1 pr-4">{child.platform.unwrap_or_else(|| "unknown".to_owned())}</td>
                                <td class="py-1 pr-4 font-mono text-xs">
                                    <A href=format!("{children_base}{}", child.digest) attr:class="text-sky-700 hover:underline dark:text-sky-300">{short_digest(&child.digest)}</A>
                                </td>
                                <td class="py-1">{format::bytes(child.size.max(0) as u64)}</td>
                            </tr>
                        })
                        .collect_view()}
                </Table>
            </Section>
        })}
        <Section title="Attached artifacts">
            {if referrers.is_empty() {
                view! { <p class="text-sm text-slate-500 dark:text-slate-400">"No signatures, SBOMs or other artifacts refer to this one."</p> }.into_any()
            } else {
                view! {
                    <Table headers=&["Type", "Digest", "Size"] testid="referrers">
                        {referrers
                            .into_iter()
                            .map(move |referrer| view! {
                                <tr>
                                    <td class="py-1 pr-4" title=referrer.artifact_type.clone().unwrap_or_default()>{referrer.kind}</td>
                                    <td class="py-1 pr-4 font-mono text-xs">
                                        <A href=format!("{referrers_base}{}", referrer.digest) attr:class="text-sky-700 hover:underline dark:text-sky-300">{short_digest(&referrer.digest)}</A>
                                    </td>
                                    <td class="py-1">{format::bytes(referrer.size.max(0) as u64)}</td>
                                </tr>
                            })
                            .collect_view()}
                    </Table>
                }
                .into_any()
            }}
        </Section>
        <Section title="Manifest">
            <pre class="max-h-96 overflow-auto rounded bg-slate-100 p-3 font-mono text-xs dark:bg-slate-800" data-testid="manifest">{manifest}</pre>
        </Section>
    }
    .into_any()
}

#[component]
fn ConfigSection(config: ImageConfigView) -> AnyView {
    let join = |parts: &[String]| if parts.is_empty() { "—".to_owned() } else { parts.join(" ") };
    view! {
        <Section title="Configuration">
            <dl class="grid gap-x-6 gap-y-2 text-sm sm:grid-cols-[max-content_1fr]" data-testid="config">
                <dt class="font-medium">"Platform"</dt>
                <dd data-testid="config-platform">{format!("{}/{}", config.os, config.architecture)}</dd>
                <dt class="font-medium">"Created"</dt>
                <dd>{config.created.clone().unwrap_or_else(|| "—".to_owned())}</dd>
                <dt class="font-medium">"Entrypoint"</dt>
                <dd class="font-mono text-xs">{join(&config.entrypoint)}</dd>
                <dt class="font-medium">"Command"</dt>
                <dd class="font-mono text-xs" data-testid="config-cmd">{join(&config.cmd)}</dd>
                <dt class="font-medium">"Working directory"</dt>
                <dd class="font-mono text-xs">{config.working_dir.clone().unwrap_or_else(|| "—".to_owned())}</dd>
                <dt class="font-medium">"User"</dt>
                <dd class="font-mono text-xs">{config.user.clone().unwrap_or_else(|| "—".to_owned())}</dd>
                <dt class="font-medium">"Exposed ports"</dt>
                <dd class="font-mono text-xs">{join(&config.exposed_ports)}</dd>
                <dt class="font-medium">"Environment"</dt>
                <dd>
                    <ul class="space-y-0.5 font-mono text-xs">
                        {config.env.iter().map(|variable| view! { <li class="break-all">{variable.clone()}</li> }).collect_view()}
                        {config.env.is_empty().then_some("—")}
                    </ul>
                </dd>
                <dt class="font-medium">"Labels"</dt>
                <dd>
                    <ul class="space-y-0.5 font-mono text-xs">
                        {config.labels.iter().map(|(key, value)| view! { <li class="break-all">{format!("{key}={value}")}</li> }).collect_view()}
                        {config.labels.is_empty().then_some("—")}
                    </ul>
                </dd>
            </dl>
        </Section>
        {(!config.history.is_empty()).then(|| view! {
            <Section title="Build history">
                <ol class="space-y-1 text-xs" data-testid="history">
                    {config
                        .history
                        .into_iter()
                        .map(|step| view! {
                            <li class="flex gap-3">
                                <span class="shrink-0 text-slate-500 dark:text-slate-400">{step.created.unwrap_or_default()}</span>
                                <span class="break-all font-mono">{step.created_by}</span>
                                {step.empty_layer.then(|| view! { <span class="shrink-0 text-slate-500">"(no layer)"</span> })}
                            </li>
                        })
                        .collect_view()}
                </ol>
            </Section>
        })}
    }
    .into_any()
}

#[component]
fn LayersSection(layers: Vec<BlobItem>) -> AnyView {
    view! {
        <Section title="Layers">
            <Table headers=&["#", "Digest", "Media type", "Size"] testid="layers">
                {layers
                    .into_iter()
                    .enumerate()
                    .map(|(n, layer)| view! {
                        <tr>
                            <td class="py-1 pr-4">{n + 1}</td>
                            <td class="py-1 pr-4 font-mono text-xs" title=layer.digest.clone()>{short_digest(&layer.digest)}</td>
                            <td class="py-1 pr-4 break-all font-mono text-xs">{layer.media_type}</td>
                            <td class="py-1 whitespace-nowrap">{format::bytes(layer.size.max(0) as u64)}</td>
                        </tr>
                    })
                    .collect_view()}
            </Table>
        </Section>
    }
    .into_any()
}

#[component]
fn Section(title: &'static str, children: Children) -> AnyView {
    let id = format!("section-{}", title.to_lowercase().replace(' ', "-"));
    let labelled_by = id.clone();
    view! {
        <section class=format!("{CARD} mt-6") aria-labelledby=labelled_by>
            <h2 id=id class="mb-3 font-medium">{title}</h2>
            {children()}
        </section>
    }
    .into_any()
}

#[component]
fn Table(headers: &'static [&'static str], testid: &'static str, children: Children) -> AnyView {
    view! {
        <div class="overflow-x-auto">
            <table class="w-full text-left text-sm" data-testid=testid>
                <thead class="text-xs uppercase tracking-wide text-slate-500 dark:text-slate-400">
                    <tr>{headers.iter().map(|h| view! { <th scope="col" class="py-1 pr-4 font-medium">{*h}</th> }).collect_view()}</tr>
                </thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">{children()}</tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn Fact(label: &'static str, children: Children) -> AnyView {
    view! {
        <div class=CARD>
            <dt class="text-xs font-medium uppercase tracking-wide text-slate-500 dark:text-slate-400">{label}</dt>
            <dd class="mt-1 text-sm">{children()}</dd>
        </div>
    }
    .into_any()
}
