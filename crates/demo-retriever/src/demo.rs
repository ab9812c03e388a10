//! Demos: the seed's episode JSON, read from a directory of `*.json` files or a JSONL file,
//! and the metadata the retriever derives from each episode.
//!
//! An episode is `{"episode_id", "instruction", "steps": [{"observation": {"screenshot_path",
//! "app_name", "url"}, "action"}]}`. Optional top-level fields override what is derived:
//! `screenshot_path`, `app_name`, `domain`, `platform`, `tags`, `metadata`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{DemoError, DemoProblem};

/// One demonstration as the retriever stores and returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Demo {
    /// The episode id; also the index id and the file name under `episodes/`.
    pub demo_id: String,
    /// The task the demo completes (the episode's `instruction`).
    pub goal: String,
    /// The screenshot embedded with the goal, resolved against the episode file.
    pub screenshot_path: Option<PathBuf>,
    /// The application the demo runs in, from the episode or its first observation.
    pub app_name: Option<String>,
    /// Host of the first URL, lower-case, `www.` stripped.
    pub domain: Option<String>,
    /// `web`, `macos`, `windows` or `unknown` (see [`platform_of`]), unless the episode says.
    pub platform: String,
    /// Free-form tags from the episode's `tags` field.
    pub tags: Vec<String>,
    /// Free metadata from the episode's `metadata` field.
    pub metadata: Value,
    /// The episode exactly as read.
    pub episode: Value,
}

/// The episode fields the retriever reads; everything else stays in [`Demo::episode`].
#[derive(Debug, Deserialize)]
struct Episode {
    episode_id: Value,
    #[serde(default)]
    instruction: Option<String>,
    #[serde(default)]
    steps: Vec<Step>,
    #[serde(default)]
    screenshot_path: Option<String>,
    #[serde(default)]
    app_name: Option<String>,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    platform: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    metadata: Value,
}

#[derive(Debug, Default, Deserialize)]
struct Step {
    #[serde(default)]
    observation: Observation,
}

#[derive(Debug, Default, Deserialize)]
struct Observation {
    #[serde(default)]
    screenshot_path: Option<String>,
    #[serde(default)]
    app_name: Option<String>,
    #[serde(default)]
    url: Option<String>,
}

/// macOS apps the seed recognises by name (besides any `*.app`).
const MACOS_APPS: &[&str] = &[
    "finder",
    "safari",
    "system settings",
    "system preferences",
    "xcode",
    "terminal",
    "notes",
    "mail",
    "calendar",
    "preview",
    "keynote",
    "pages",
    "numbers",
];
/// Windows apps the seed recognises by name (besides any `*.exe`).
const WINDOWS_APPS: &[&str] =
    &["explorer", "notepad", "control panel", "settings (windows)", "microsoft edge", "paint"];

/// The seed's platform rule: `web` when the first step has an http(s) URL, else `macos` or
/// `windows` from the app name, else `unknown`.
pub fn platform_of(first_url: Option<&str>, app_name: Option<&str>) -> &'static str {
    if first_url.is_some_and(|u| host_of(u).is_some()) {
        return "web";
    }
    let app = app_name.map(|a| a.trim().to_lowercase()).unwrap_or_default();
    if app.ends_with(".app") || MACOS_APPS.contains(&app.as_str()) {
        "macos"
    } else if app.ends_with(".exe") || WINDOWS_APPS.contains(&app.as_str()) {
        "windows"
    } else {
        "unknown"
    }
}

/// The host of an `http://` or `https://` URL, lower-case, without port, user info or `www.`.
pub fn host_of(url: &str) -> Option<String> {
    let url = url.trim();
    let scheme_end = url.find("://")?;
    if !matches!(url[..scheme_end].to_ascii_lowercase().as_str(), "http" | "https") {
        return None;
    }
    let rest = &url[scheme_end + 3..];
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    let host = host.split(':').next().unwrap_or("").to_lowercase();
    (!host.is_empty()).then(|| normalize_domain(&host))
}

/// Lower-case, surrounding whitespace and a leading `www.` removed: the form domains are
/// stored and compared in.
pub fn normalize_domain(domain: &str) -> String {
    let d = domain.trim().to_lowercase();
    d.strip_prefix("www.").map(str::to_owned).unwrap_or(d)
}

/// Demo ids become file names under `episodes/` and lines of the index's `ids` file.
fn check_demo_id(id: &str) -> Result<(), &'static str> {
    if id.is_empty() || id.len() > 200 {
        return Err("it must have 1 to 200 characters");
    }
    if id.starts_with('.') {
        return Err("it must not start with '.'");
    }
    if !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@' | '+')) {
        return Err("only ASCII letters, digits and - _ . @ + are allowed");
    }
    Ok(())
}

impl Demo {
    /// The bytes of this demo's `episodes/<demo_id>.json`: the whole demo, episode included
    /// (its sha256 is stored in the index so a changed episode file is noticed at load).
    pub fn episode_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a demo serialises")
    }

    /// Builds a demo from one episode's JSON text. Relative screenshot paths resolve against
    /// `base_dir`; the screenshot must exist (it is read when the demo is embedded).
    pub fn from_episode_json(text: &str, base_dir: &Path) -> Result<Demo, DemoProblem> {
        let raw: Value = serde_json::from_str(text).map_err(DemoProblem::Json)?;
        Self::from_episode(raw, Some(base_dir))
    }

    /// Builds a demo from an episode where there are no files (wasm): the screenshot comes as
    /// bytes ([`crate::DemoRetriever::add_demo_with_screenshot`]), so `screenshot_path` fields
    /// are ignored and the demo has none.
    pub fn from_episode_value(raw: Value) -> Result<Demo, DemoProblem> {
        Self::from_episode(raw, None)
    }

    /// `base_dir`: where relative screenshot paths resolve; `None` ignores them.
    fn from_episode(raw: Value, base_dir: Option<&Path>) -> Result<Demo, DemoProblem> {
        let ep: Episode = serde_json::from_value(raw.clone()).map_err(DemoProblem::Json)?;
        let demo_id = match &ep.episode_id {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => {
                return Err(DemoProblem::BadId { id: other.to_string(), reason: "it must be a string or a number" });
            }
        };
        check_demo_id(&demo_id).map_err(|reason| DemoProblem::BadId { id: demo_id.clone(), reason })?;
        let goal = ep.instruction.filter(|g| !g.trim().is_empty()).ok_or(DemoProblem::NoGoal)?;
        let first = ep.steps.first().map(|s| &s.observation);
        let first_url = ep.steps.iter().find_map(|s| s.observation.url.as_deref().filter(|u| host_of(u).is_some()));
        let app_name = ep.app_name.or_else(|| first.and_then(|o| o.app_name.clone())).filter(|a| !a.trim().is_empty());
        let platform = ep
            .platform
            .filter(|p| !p.trim().is_empty())
            .unwrap_or_else(|| platform_of(first.and_then(|o| o.url.as_deref()), app_name.as_deref()).to_owned());
        let domain =
            ep.domain.map(|d| normalize_domain(&d)).or_else(|| first_url.and_then(host_of)).filter(|d| !d.is_empty());
        let screenshot = ep.screenshot_path.or_else(|| first.and_then(|o| o.screenshot_path.clone()));
        let screenshot_path = base_dir.and_then(|base| screenshot.filter(|p| !p.is_empty()).map(|p| resolve(base, &p)));
        if let Some(path) = &screenshot_path {
            // Episode files and index metadata are JSON text: a path that is not UTF-8 cannot
            // be stored faithfully, so the demo is refused here (and can be skipped), rather
            // than failing or mangling the path at save time.
            if path.to_str().is_none() {
                return Err(DemoProblem::NonUtf8Path(path.clone()));
            }
            std::fs::metadata(path)
                .and_then(|m| if m.is_file() { Ok(()) } else { Err(std::io::Error::other("not a file")) })
                .map_err(|source| DemoProblem::MissingScreenshot { path: path.clone(), source })?;
        }
        let metadata = if ep.metadata.is_null() { Value::Object(Default::default()) } else { ep.metadata };
        Ok(Demo { demo_id, goal, screenshot_path, app_name, domain, platform, tags: ep.tags, metadata, episode: raw })
    }

    /// The demo as index metadata: everything but the episode itself.
    pub(crate) fn summary(&self) -> Value {
        serde_json::json!({
            "demo_id": self.demo_id,
            "goal": self.goal,
            "screenshot_path": self.screenshot_path,
            "app_name": self.app_name,
            "domain": self.domain,
            "platform": self.platform,
            "tags": self.tags,
            "metadata": self.metadata,
        })
    }
}

/// `path` as an absolute path (canonical when the file exists), relative ones taken from
/// `base_dir`.
fn resolve(base_dir: &Path, path: &str) -> PathBuf {
    let joined = base_dir.join(path);
    std::fs::canonicalize(&joined).or_else(|_| std::path::absolute(&joined)).unwrap_or(joined)
}

/// Demos read from a library, and the ones that could not be read.
#[derive(Debug, Default)]
pub struct DemoLibrary {
    /// The demos that were read, in library order.
    pub demos: Vec<Demo>,
    /// The demos that could not be read, and why.
    pub errors: Vec<DemoError>,
}

/// Reads a library: a directory (every `*.json` file in it, sorted by name, one episode
/// each), a `.jsonl` file (one episode per non-blank line) or a single `.json` episode.
/// Bad demos land in [`DemoLibrary::errors`]; only an unreadable library is an `Err`.
pub fn read_library(path: &Path) -> Result<DemoLibrary, DemoError> {
    let origin = |p: &Path| p.display().to_string();
    let io = |p: &Path| {
        let origin = origin(p);
        move |e| DemoError { origin, problem: DemoProblem::Io(e) }
    };
    let mut library = DemoLibrary::default();
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io(path))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x.eq_ignore_ascii_case("json")))
            .collect();
        files.sort();
        for file in files {
            let demo = std::fs::read_to_string(&file)
                .map_err(DemoProblem::Io)
                .and_then(|text| Demo::from_episode_json(&text, &parent(&file)));
            library.push(demo, origin(&file));
        }
    } else {
        let text = std::fs::read_to_string(path).map_err(io(path))?;
        let base = parent(path);
        if path.extension().is_some_and(|x| x.eq_ignore_ascii_case("jsonl")) {
            for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                library.push(Demo::from_episode_json(line, &base), format!("{}:{}", origin(path), i + 1));
            }
        } else {
            library.push(Demo::from_episode_json(&text, &base), origin(path));
        }
    }
    Ok(library)
}

fn parent(file: &Path) -> PathBuf {
    file.parent().map(Path::to_path_buf).unwrap_or_default()
}

impl DemoLibrary {
    fn push(&mut self, demo: Result<Demo, DemoProblem>, origin: String) {
        match demo {
            Ok(d) if self.demos.iter().any(|o| o.demo_id == d.demo_id) => {
                self.errors.push(DemoError { origin, problem: DemoProblem::Duplicate(d.demo_id) })
            }
            Ok(d) => self.demos.push(d),
            Err(problem) => self.errors.push(DemoError { origin, problem }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_follows_the_seed_rules() {
        assert_eq!(platform_of(Some("https://github.com"), Some("Safari")), "web");
        assert_eq!(platform_of(Some("file:///tmp/x"), Some("Safari")), "macos");
        assert_eq!(platform_of(None, Some("System Settings")), "macos");
        assert_eq!(platform_of(None, Some("Foo.app")), "macos");
        assert_eq!(platform_of(None, Some("notepad.exe")), "windows");
        assert_eq!(platform_of(None, Some("Control Panel")), "windows");
        assert_eq!(platform_of(None, Some("gedit")), "unknown");
        assert_eq!(platform_of(None, None), "unknown");
    }

    #[test]
    fn hosts_lose_www_port_and_case() {
        assert_eq!(host_of("https://www.GitHub.com/a/b?c").as_deref(), Some("github.com"));
        assert_eq!(host_of("http://user@mail.google.com:8080/x").as_deref(), Some("mail.google.com"));
        assert_eq!(host_of("ftp://example.com"), None);
        assert_eq!(host_of("github.com"), None);
        assert_eq!(normalize_domain(" WWW.Example.org "), "example.org");
    }

    #[test]
    fn an_episode_gives_its_metadata_and_overrides_win() {
        let dir = std::env::temp_dir();
        let text = r#"{"episode_id": "e1", "instruction": "Star the repo",
            "steps": [{"observation": {"app_name": "Safari"}, "action": {}},
                      {"observation": {"url": "https://www.github.com/x"}, "action": {}}],
            "tags": ["git"], "metadata": {"k": 1}}"#;
        let d = Demo::from_episode_json(text, &dir).unwrap();
        assert_eq!((d.demo_id.as_str(), d.goal.as_str()), ("e1", "Star the repo"));
        assert_eq!(d.domain.as_deref(), Some("github.com"));
        assert_eq!(d.platform, "macos", "the first step has no URL");
        assert_eq!(d.screenshot_path, None);
        assert_eq!(d.metadata["k"], 1);
        let over = r#"{"episode_id": 7, "instruction": "x", "platform": "linux", "domain": "www.A.com", "steps": []}"#;
        let d = Demo::from_episode_json(over, &dir).unwrap();
        assert_eq!((d.demo_id.as_str(), d.platform.as_str(), d.domain.as_deref()), ("7", "linux", Some("a.com")));
    }

    #[test]
    fn bad_episodes_are_typed_problems() {
        let dir = std::env::temp_dir();
        let bad = |t: &str| Demo::from_episode_json(t, &dir).unwrap_err().to_string();
        assert!(bad("{not json").contains("invalid episode JSON"));
        assert!(bad(r#"{"episode_id": "a/b", "instruction": "x"}"#).contains("not usable as a demo id"));
        assert!(bad(r#"{"episode_id": "a", "instruction": " "}"#).contains("no instruction"));
        let missing = r#"{"episode_id": "a", "instruction": "x", "screenshot_path": "no-such-shot.png"}"#;
        assert!(bad(missing).contains("no-such-shot.png"), "{}", bad(missing));
    }
}
