//! The real [`Namer`]: the LLM naming use-case of [`crate::llm`], run on a job thread, in the
//! naming mode the settings give (`--llm-naming`, `MUSAV_LLM_NAMING`, the config).

use crate::curation::labels::LabelMap;
use crate::dataset::Dataset;
use crate::llm::{self, LlmSettings};

use super::namer::{Namer, Naming};

/// Names labels with the configured endpoint (or its cache / deterministic fallback).
#[derive(Debug, Clone)]
pub struct LlmNamer {
    pub settings: LlmSettings,
}

impl Namer for LlmNamer {
    fn name(
        &self,
        dataset: &Dataset,
        map: &LabelMap,
        only: Option<&[u32]>,
    ) -> Result<Naming, String> {
        let out =
            llm::name_labels(dataset, map, &self.settings, only).map_err(|e| e.to_string())?;
        Ok(Naming {
            names: out.names,
            suggestions: out.suggestions,
            warnings: out.warnings,
        })
    }

    fn mode(&self) -> Option<&'static str> {
        Some(self.settings.naming.as_str())
    }
}
