//! `rotor new`: writes a plugin project and says how to build and try it.

use std::path::PathBuf;

use rotor::scaffold::{self, Language, Template};

/// Writes a `template` project in `language` into `dir` (default
/// `my-<kind>`) and prints what was written and the next two commands.
pub fn run(template: Template, language: Language, dir: Option<PathBuf>) -> anyhow::Result<()> {
    let dir =
        dir.unwrap_or_else(|| PathBuf::from(format!("my-{}", template.name().replace('_', "-"))));
    let project = scaffold::create(template, language, &dir)?;
    let own = project
        .files
        .iter()
        .filter(|path| !path.starts_with("rotor-sdk/"))
        .count();
    println!(
        "wrote {} ({language}, {template}): {} and {} more files, with a copy of the SDK in rotor-sdk/",
        project.dir.display(),
        project.files[0],
        own - 1,
    );
    println!("build it:  {}", project.build);
    println!("try it:    {}", project.try_it);
    Ok(())
}
