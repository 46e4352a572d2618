//! The registry of adapters by name, adapter chains, and the translator that
//! validates every step against the schema catalogue.

use crate::adapter::{Adapter, AdapterInfo};
use crate::context::Context;
use crate::error::AdapterError;
use crate::minimise::{ConfigError, Minimisation};
use crate::xslt::{DeclarativeError, XsltAdapter};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use xoev_schema::{Catalogue, SchemaError, Validator};

/// Builds one built-in adapter from the configuration.
type Builtin = fn(&Config) -> Arc<dyn Adapter>;

/// THE list of built-in adapters. Add a line here to register one.
const BUILTINS: &[Builtin] = &[
    |c| {
        Arc::new(crate::xnachweis_to_xestb::XNachweisToXEStB::new(
            c.minimisation.clone(),
        ))
    },
    |c| {
        Arc::new(crate::xestb_to_xnachweis::XEStBToXNachweis::new(
            c.minimisation.clone(),
        ))
    },
    |_| Arc::new(crate::oots_to_xnachweis::OotsToXNachweis::new()),
];

/// What the adapters are built from.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Allowances and fee tables (see [`Minimisation`]).
    pub minimisation: Arc<Minimisation>,
    /// Directory of declarative adapters (`*.toml` + their stylesheets);
    /// `None` registers built-ins only.
    pub declarative_dir: Option<PathBuf>,
}

impl Config {
    /// The configuration of a checkout or installation rooted at `root`:
    /// `config/minimisation.toml`, `config/fee-tables.toml`, `adapters/`.
    pub fn from_root(root: &Path) -> Result<Self, RegistryError> {
        let minimisation = Minimisation::load(
            &root.join("config/minimisation.toml"),
            &root.join("config/fee-tables.toml"),
        )?;
        Ok(Self {
            minimisation: Arc::new(minimisation),
            declarative_dir: Some(root.join("adapters")),
        })
    }
}

/// Why the registry could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The minimisation configuration is broken.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Declarative adapters are broken (every problem listed).
    #[error(transparent)]
    Declarative(#[from] DeclarativeError),
    /// Two adapters share a name.
    #[error("adapter name {0} is registered twice")]
    Duplicate(String),
}

/// All adapters by name.
#[derive(Clone)]
pub struct Registry {
    adapters: BTreeMap<String, Arc<dyn Adapter>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.adapters.keys()).finish()
    }
}

impl Registry {
    /// The built-in adapters plus the declarative ones of `config.declarative_dir`.
    pub fn load(config: &Config) -> Result<Self, RegistryError> {
        let mut all: Vec<Arc<dyn Adapter>> = BUILTINS.iter().map(|b| b(config)).collect();
        if let Some(dir) = &config.declarative_dir {
            for a in XsltAdapter::load_dir(dir)? {
                all.push(Arc::new(a));
            }
        }
        let mut adapters = BTreeMap::new();
        for a in all {
            let name = a.info().name.clone();
            if adapters.insert(name.clone(), a).is_some() {
                return Err(RegistryError::Duplicate(name));
            }
        }
        Ok(Self { adapters })
    }

    /// The adapter named `name`.
    pub fn get(&self, name: &str) -> Result<Arc<dyn Adapter>, AdapterError> {
        self.adapters
            .get(name)
            .cloned()
            .ok_or_else(|| AdapterError::UnknownAdapter {
                name: name.to_owned(),
            })
    }

    /// Name, source and target of every adapter, sorted by name.
    pub fn list(&self) -> Vec<&AdapterInfo> {
        self.adapters.values().map(|a| a.info()).collect()
    }

    /// A chain of the named adapters, applied in order.
    pub fn chain(&self, names: &[impl AsRef<str>]) -> Result<Chain, AdapterError> {
        let steps = names
            .iter()
            .map(|n| self.get(n.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        if steps.is_empty() {
            return Err(AdapterError::UnknownAdapter {
                name: "(empty chain)".into(),
            });
        }
        Ok(Chain { steps })
    }
}

/// Adapters applied one after the other: the output of each is the input
/// of the next.
#[derive(Clone)]
pub struct Chain {
    steps: Vec<Arc<dyn Adapter>>,
}

impl Chain {
    /// The adapters of the chain.
    pub fn steps(&self) -> impl Iterator<Item = &AdapterInfo> {
        self.steps.iter().map(|s| s.info())
    }

    /// The first adapter (a chain from [`Registry::chain`] is never empty).
    fn first(&self) -> Result<&Arc<dyn Adapter>, AdapterError> {
        self.steps.first().ok_or_else(empty_chain)
    }
}

fn empty_chain() -> AdapterError {
    AdapterError::UnknownAdapter {
        name: "(empty chain)".into(),
    }
}

/// Runs chains and validates the input of the first step and the output
/// of every step against the schema catalogue — what the gateway and the
/// CLI call. Validation runs libxml2: call it off the async reactor.
#[derive(Debug, Clone)]
pub struct Translator {
    validator: Validator,
}

impl Translator {
    /// A translator validating with `validator`.
    pub fn new(validator: Validator) -> Self {
        Self { validator }
    }

    /// Validates `input` against the first adapter's source (an enveloped
    /// signature set aside, as the service does after verifying), runs every
    /// step, validates each output against that step's target, and returns
    /// the final output. The input is parsed once: the validated document
    /// is what the first adapter reads.
    pub fn run(&self, chain: &Chain, input: &[u8], ctx: &Context) -> Result<Vec<u8>, AdapterError> {
        let first = chain.first()?;
        let info = first.info();
        let doc = self.check(
            input,
            Input::Message,
            &info.source.standard,
            &info.source.version,
            |issues| AdapterError::InvalidInput {
                standard: info.source.standard.clone(),
                version: info.source.version.clone(),
                issues,
            },
        )?;
        Ok(self.run_steps(chain, &doc, ctx)?.0)
    }

    /// Like [`Translator::run`], for a document the caller has already
    /// parsed and validated as `standard` `version` (the gateway's pipeline
    /// has, on the same parse that verified its signature): checks that this
    /// is the first adapter's source standard, and the first adapter reads
    /// the document itself — no serialisation, no parse, no validation of
    /// the input again. Every step's output is still validated; the last
    /// output is returned as its bytes and the document parsed from them
    /// that was validated, ready to be signed without another parse (and
    /// serialised by splicing the signature into the bytes,
    /// `xoev_dsig::signed_bytes`).
    pub fn run_validated(
        &self,
        chain: &Chain,
        input: &xoev_schema::Document,
        standard: &str,
        version: &str,
        ctx: &Context,
    ) -> Result<(Vec<u8>, xoev_schema::Document), AdapterError> {
        let source = &chain.first()?.info().source;
        if !source.standard.eq_ignore_ascii_case(standard) || source.version != version {
            return Err(AdapterError::UnexpectedMessage {
                adapter: chain.first()?.info().name.clone(),
                expected: source.to_string(),
                found: format!("{standard} {version}"),
            });
        }
        self.run_steps(chain, input, ctx)
    }

    /// Runs every step on the previous step's validated document; returns
    /// the last output's bytes and document.
    fn run_steps(
        &self,
        chain: &Chain,
        input: &xoev_schema::Document,
        ctx: &Context,
    ) -> Result<(Vec<u8>, xoev_schema::Document), AdapterError> {
        let (first, rest) = chain.steps.split_first().ok_or_else(empty_chain)?;
        let mut out = self.step(first, input, ctx)?;
        for step in rest {
            out = self.step(step, &out.1, ctx)?;
        }
        Ok(out)
    }

    /// One step: translate, then validate the output against its target.
    fn step(
        &self,
        step: &Arc<dyn Adapter>,
        input: &xoev_schema::Document,
        ctx: &Context,
    ) -> Result<(Vec<u8>, xoev_schema::Document), AdapterError> {
        let info = step.info();
        let bytes = step.translate_document(input, ctx)?;
        let doc = self.check(
            &bytes,
            Input::Output,
            &info.target.standard,
            &info.target.version,
            |issues| AdapterError::InvalidOutput {
                adapter: info.name.clone(),
                standard: info.target.standard.clone(),
                version: info.target.version.clone(),
                issues,
            },
        )?;
        Ok((bytes, doc))
    }

    /// Validates `bytes` against `standard` `version` of the catalogue and
    /// returns the parsed document.
    fn check(
        &self,
        bytes: &[u8],
        what: Input,
        standard: &str,
        version: &str,
        invalid: impl FnOnce(Vec<xoev_schema::Issue>) -> AdapterError,
    ) -> Result<xoev_schema::Document, AdapterError> {
        let catalogue: &Catalogue = self.validator.catalogue();
        let entry = catalogue
            .get(standard, version)
            .ok_or_else(|| AdapterError::Schema {
                detail: format!("{standard} {version} is not in the schema catalogue"),
            })?;
        let schema = entry.schema().map_err(|e| AdapterError::Schema {
            detail: e.to_string(),
        })?;
        let doc = match xoev_schema::parse_document(bytes, self.validator.limits()) {
            Ok(doc) => doc,
            Err(SchemaError::Malformed(issue)) => return Err(invalid(vec![issue])),
            Err(other) => {
                return Err(AdapterError::Malformed {
                    detail: other.to_string(),
                });
            }
        };
        if what == Input::Message {
            // a signed message, as the service validates it after verifying
            xoev_schema::strip_enveloped_signatures(&doc);
        }
        schema.validate(&doc).map_err(invalid)?;
        Ok(doc)
    }
}

/// What [`Translator::check`] checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    /// The message to translate: an enveloped signature is set aside.
    Message,
    /// An adapter's output.
    Output,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{minimisation, repo};

    /// The repository's registry and a translator on its catalogue.
    fn registry_and_translator() -> (Registry, Translator) {
        let r = Registry::load(&Config::from_root(&repo()).expect("config")).expect("registry");
        let catalogue = xoev_schema::Catalogue::load(repo().join("schemas")).expect("catalogue");
        let t = Translator::new(xoev_schema::Validator::new(
            std::sync::Arc::new(catalogue),
            xoev_core::Limits::default(),
        ));
        (r, t)
    }

    #[test]
    fn a_name_in_decomposed_form_is_written_composed_and_passes_the_target_schema() {
        // "Mu" + U+0308 is "Müller" as a system storing decomposed
        // characters sends it: valid XNachweis (xs:string), but XEStB's
        // DIN 91379 datatypeC accepts only the composed ü (the output was
        // refused as invalid).
        let (r, t) = registry_and_translator();
        let chain = r.chain(&["xnachweis-to-xestb"]).expect("chain");
        let input = crate::testutil::text(
            "tests/samples/xnachweis/DE.EvidenceRequest.0101.synthetic-kita-kassel.xml",
        )
        .replace(">Mustermann<", ">Mu\u{308}ller<");
        assert!(input.contains("Mu\u{308}ller"));
        let out = t
            .run(&chain, input.as_bytes(), &crate::testutil::ctx())
            .expect("translated and valid");
        let out = String::from_utf8(out).expect("UTF-8");
        assert!(out.contains(">M\u{fc}ller<"), "{out}");
    }

    #[test]
    fn a_signed_message_is_translated_without_its_enveloped_signature() {
        let (r, t) = registry_and_translator();
        let chain = r.chain(&["xnachweis-to-xestb"]).expect("chain");
        let plain = crate::testutil::text(
            "tests/samples/xnachweis/DE.EvidenceRequest.0101.synthetic-kita-kassel.xml",
        );
        let ctx = crate::testutil::ctx();
        let expected = t.run(&chain, plain.as_bytes(), &ctx).expect("plain");
        // the signature is the root's last child, as a signer puts it
        let close = plain.rfind("</").expect("root end tag");
        let signed = format!(
            "{}<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo/></ds:Signature>{}",
            &plain[..close],
            &plain[close..]
        );
        let out = t
            .run(&chain, signed.as_bytes(), &ctx)
            .expect("the signature is set aside, as the service does");
        assert_eq!(out, expected);
    }

    #[test]
    fn run_validated_refuses_input_of_another_standard_and_matches_run() {
        let (r, t) = registry_and_translator();
        let chain = r.chain(&["xnachweis-to-xestb"]).expect("chain");
        let input = crate::testutil::read(
            "tests/samples/xnachweis/DE.EvidenceRequest.0101.synthetic-kita-kassel.xml",
        );
        let ctx = crate::testutil::ctx();
        let parsed = crate::xml::parse(&input).expect("parses");
        match t.run_validated(&chain, &parsed, "XEStB", "1.0.0", &ctx) {
            Err(e) => assert_eq!(e.as_str(), "unexpected-message"),
            Ok(_) => panic!("input of another standard was accepted"),
        }
        let Ok((bytes, doc)) = t.run_validated(&chain, &parsed, "XNachweis", "1.2.0", &ctx) else {
            panic!("valid input refused");
        };
        // the input document is left as it was
        assert_eq!(
            parsed.to_string(),
            crate::xml::parse(&input).expect("parses").to_string()
        );
        // the returned document is the validated output of `run`
        let reparsed = xoev_schema::parse_document(
            &t.run(&chain, &input, &ctx).expect("ok"),
            &xoev_core::Limits::default(),
        )
        .unwrap_or_else(|_| panic!("output parses"));
        assert_eq!(doc.to_string(), reparsed.to_string());
        // and the bytes returned are the ones it was parsed from
        let from_bytes = xoev_schema::parse_document(&bytes, &xoev_core::Limits::default())
            .unwrap_or_else(|_| panic!("output bytes parse"));
        assert_eq!(doc.to_string(), from_bytes.to_string());
    }

    #[test]
    fn the_repository_registry_has_unique_names_and_both_kinds() {
        let config = Config::from_root(&repo()).expect("config");
        let r = Registry::load(&config).expect("registry");
        let names: Vec<&str> = r.list().iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "oots-edm-to-xnachweis",
                "xestb-to-xnachweis",
                "xnachweis-response-to-oots-edm",
                "xnachweis-to-oots-edm",
                "xnachweis-to-xestb"
            ]
        );
        assert_eq!(BUILTINS.len(), 3);
    }

    #[test]
    fn a_declarative_adapter_cannot_shadow_a_builtin() {
        let tmp = tempfile::tempdir().expect("dir");
        let dir = tmp.path().to_path_buf();
        std::fs::write(
            dir.join("x.xsl"),
            r#"<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"/>"#,
        )
        .expect("write");
        std::fs::write(
            dir.join("x.toml"),
            "name = \"xnachweis-to-xestb\"\nstylesheet = \"x.xsl\"\nsource = { standard = \"XNachweis\", version = \"1.2.0\" }\ntarget = { standard = \"XEStB\", version = \"1.0.0\" }\n",
        )
        .expect("write");
        let config = Config {
            minimisation: minimisation(),
            declarative_dir: Some(dir),
        };
        let err = Registry::load(&config).expect_err("duplicate");
        assert!(
            matches!(&err, RegistryError::Duplicate(n) if n == "xnachweis-to-xestb"),
            "{err}"
        );
    }

    #[test]
    fn chains_name_the_unknown_step() {
        let r = Registry::load(&Config {
            minimisation: minimisation(),
            declarative_dir: None,
        })
        .expect("registry");
        let err = r.chain(&["xnachweis-to-xestb", "nope"]).err();
        assert_eq!(
            err,
            Some(AdapterError::UnknownAdapter {
                name: "nope".into()
            })
        );
        assert!(r.chain(&[] as &[&str]).is_err());
    }
}
