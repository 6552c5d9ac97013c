//! Migration from findface-security: reads its `config.py` and writes the equivalent ffsec TOML,
//! with a report of every setting it mapped, ignored or could not understand
//! (`<service> config import-findface FILE`).

mod mapping;
pub mod pyconf;

pub use mapping::{Entry, Outcome};
pub use pyconf::SyntaxError;

use crate::config::{Config, ConfigError, Service};
use pyconf::{Statement, Value};

/// The result of a conversion: the TOML table (only the keys the file set) and the report.
#[derive(Debug, Clone)]
pub struct Conversion {
    pub table: toml::Table,
    pub report: Vec<Entry>,
}

/// Converts the text of a findface-security `config.py`. A syntax error stops the conversion;
/// settings that are valid Python but not ffsec settings only show up in the report.
pub fn convert(source: &str) -> Result<Conversion, SyntaxError> {
    let statements = pyconf::parse(source)?;
    let defaults = crate::config::defaults_tree().map_err(|e| SyntaxError { line: 0, message: e.to_string() })?;
    let mut mapper = mapping::Mapper { defaults: &defaults, out: toml::Table::new(), report: Vec::new() };
    for statement in &statements {
        match statement {
            Statement::Assign { name, value, line, augmented: false } => mapper.top_level(name, value, *line),
            Statement::Assign { name, line, augmented: true, .. } if name == "INSTALLED_APPS" => {
                ignore_apps(&mut mapper.report, *line);
            }
            Statement::Assign { name, line, augmented: true, .. } => mapper.report.push(Entry {
                key: name.clone(),
                line: *line,
                outcome: Outcome::NotUnderstood { reason: "`+=` is only understood for INSTALLED_APPS".into() },
            }),
            Statement::Call { target, method, args, line } if target == "INSTALLED_APPS" => {
                let apps: Vec<String> = args
                    .iter()
                    .flat_map(|a| match a {
                        Value::List(items) => items.clone(),
                        other => vec![other.clone()],
                    })
                    .filter_map(|a| if let Value::Str(s) = a { Some(s) } else { None })
                    .collect();
                // The Genetec plugin has an equivalent, but it needs settings (Web SDK user, alarm)
                // that config.py does not hold: switching it on here would fail `config check`.
                let reason = if apps.iter().any(|a| a == "ffsecurity_genetec") {
                    "ffsec's equivalent is INTEGRATIONS = [\"genetec\"] plus a [GENETEC] section (Web SDK user, \
                     alarm), which config.py does not hold: set them by hand (docs/integrations.md)"
                } else {
                    "integration plugins have no ffsec equivalent"
                };
                mapper.report.push(Entry {
                    key: format!("INSTALLED_APPS.{method}({})", apps.join(", ")),
                    line: *line,
                    outcome: Outcome::Ignored { reason: reason.into() },
                });
            }
            Statement::Call { target, method, line, .. } => mapper.report.push(Entry {
                key: format!("{target}.{method}(...)"),
                line: *line,
                outcome: Outcome::NotUnderstood { reason: "a method call; write the resulting value out".into() },
            }),
            Statement::Import { line } => mapper.report.push(Entry {
                key: "import".into(),
                line: *line,
                outcome: Outcome::Ignored { reason: "imports are not needed in TOML".into() },
            }),
        }
    }
    Ok(Conversion { table: mapper.out, report: mapper.report })
}

fn ignore_apps(report: &mut Vec<Entry>, line: usize) {
    report.push(Entry {
        key: "INSTALLED_APPS".into(),
        line,
        outcome: Outcome::Ignored { reason: "integration plugins have no ffsec equivalent".into() },
    });
}

impl Conversion {
    /// Whether every setting was mapped or deliberately ignored.
    pub fn complete(&self) -> bool {
        !self.report.iter().any(|e| matches!(e.outcome, Outcome::NotUnderstood { .. }))
    }

    /// Loads the converted settings as a service would (defaults underneath), to catch values of
    /// the right type but out of range.
    pub fn check(&self, source: &str, service: Service) -> Result<Config, ConfigError> {
        Config::from_table(self.table.clone(), source, service)
    }

    /// The report, one line per setting: `<file>:<line>: <key>: mapped to X | ignored (why) | ...`.
    pub fn report_lines(&self, file: &str) -> Vec<String> {
        self.report
            .iter()
            .map(|e| {
                let what = match &e.outcome {
                    Outcome::Mapped { to } => format!("mapped to {to}"),
                    Outcome::Ignored { reason } => format!("ignored: {reason}"),
                    Outcome::NotUnderstood { reason } => format!("NOT UNDERSTOOD: {reason}"),
                };
                format!("{file}:{}: {}: {what}", e.line, e.key)
            })
            .collect()
    }

    /// The TOML file: a header with what was left behind, then the settings.
    pub fn render(&self, file: &str) -> Result<String, toml::ser::Error> {
        let mut out = format!(
            "# ffsec configuration converted from the findface-security settings in {file}\n\
             # by `config import-findface`. Keys not written here keep ffsec's defaults\n\
             # (see docs/configuration.md). Settings not carried over:\n"
        );
        let left: Vec<String> = self
            .report_lines(file)
            .into_iter()
            .zip(&self.report)
            .filter(|(_, e)| !matches!(e.outcome, Outcome::Mapped { .. }))
            .map(|(line, _)| format!("#   {line}\n"))
            .collect();
        if left.is_empty() {
            out.push_str("#   (none)\n");
        }
        out.extend(left);
        out.push('\n');
        out.push_str(&toml::to_string(&self.table)?);
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
