//! The edits of a review: each checks its input, then goes through [`App::edit`] so that it is
//! validated, undoable and reflected in the export counts at once.

use std::sync::Arc;

use super::{App, Dest};
use crate::curation::labels::{Label, LabelMap};
use crate::curation::{self, CurationParams};
use crate::tui::recluster::{on_one_thread, recluster};

impl App {
    pub fn rename_label(&mut self, label: usize, name: &str) -> Result<(), String> {
        let name = name.trim().to_string();
        self.edit(&format!("renamed label to {name:?}"), |m| {
            let l = m
                .labels
                .get_mut(label)
                .ok_or_else(|| format!("no label #{label}"))?;
            l.name = name;
            l.named_by = "manual".into();
            Ok(())
        })
    }

    /// Moves `tag` out of wherever it is (a label, noise, or unmentioned) to `dest`.
    pub fn move_tag(&mut self, tag: &str, dest: Dest) -> Result<(), String> {
        let what = match dest {
            Dest::Label(i) => format!(
                "moved {tag} to {}",
                self.map.labels.get(i).map_or("?", |l| l.name.as_str())
            ),
            Dest::Noise => format!("moved {tag} to noise"),
        };
        let tag = tag.to_string();
        self.edit(&what, |m| {
            if let Dest::Label(i) = dest
                && i >= m.labels.len()
            {
                return Err(format!("no label #{i}"));
            }
            for l in &mut m.labels {
                l.tags.retain(|t| *t != tag);
            }
            m.noise.retain(|t| *t != tag);
            m.suggestions.retain(|s| s.tag != tag);
            match dest {
                Dest::Label(i) => m.labels[i].tags.push(tag),
                Dest::Noise => m.noise.push(tag),
            }
            Ok(())
        })
    }

    /// Moves every tag of label `from` into label `into` and removes `from`.
    pub fn merge_labels(&mut self, from: usize, into: usize) -> Result<(), String> {
        let n = self.map.labels.len();
        if from >= n || into >= n || from == into {
            let e = "merge needs two different labels".to_string();
            self.error(e.clone());
            return Err(e);
        }
        let what = format!(
            "merged {} into {}",
            self.map.labels[from].name, self.map.labels[into].name
        );
        self.edit(&what, |m| {
            let gone = m.labels.remove(from);
            let into = if into > from { into - 1 } else { into };
            m.labels[into].tags.extend(gone.tags);
            m.suggestions.retain(|s| s.label != Some(gone.id));
            Ok(())
        })?;
        self.label_sel = if into > from { into - 1 } else { into };
        self.clamp();
        Ok(())
    }

    /// Splits a label in two by k-means (k = 2) on its tags' PCA coordinates; the part holding the
    /// label's biggest tag keeps the name, the other becomes a new label.
    pub fn split_label(&mut self, label: usize) -> Result<(), String> {
        let Some(l) = self.map.labels.get(label) else {
            let e = "no label selected".to_string();
            self.error(e.clone());
            return Err(e);
        };
        let ids: Vec<usize> = l
            .tags
            .iter()
            .filter_map(|t| self.dataset.tag_id(t))
            .collect();
        if ids.len() < 2 {
            let e = format!("{} has fewer than two tags; nothing to split", l.name);
            self.error(e.clone());
            return Err(e);
        }
        let coords = self.curation.coords.select(ndarray::Axis(0), &ids);
        let params = CurationParams {
            k: 2,
            // Every member already belongs to the label: none may become noise here.
            noise_threshold: f64::MAX,
            ..self.curation.params.clone()
        };
        let parts = match on_one_thread(|| curation::cluster::cluster(&coords, &params)) {
            Ok(p) => p,
            Err(e) => {
                self.error(format!("split: {e}"));
                return Err(e.to_string());
            }
        };
        let first = parts[0];
        let names: Vec<String> = ids.iter().map(|&t| self.dataset.tags[t].clone()).collect();
        let (keep, other): (Vec<_>, Vec<_>) =
            names.into_iter().zip(parts).partition(|(_, p)| *p == first);
        let keep: Vec<String> = keep.into_iter().map(|(t, _)| t).collect();
        let other: Vec<String> = other.into_iter().map(|(t, _)| t).collect();
        let old_name = l.name.clone();
        let new_id = self
            .map
            .labels
            .iter()
            .map(|l| l.id)
            .max()
            .map_or(0, |m| m + 1);
        let mut new_name = format!("{old_name} (split)");
        let mut n = 2;
        while self
            .map
            .labels
            .iter()
            .any(|l| l.name.eq_ignore_ascii_case(&new_name))
        {
            new_name = format!("{old_name} (split {n})");
            n += 1;
        }
        self.edit(
            &format!("split {old_name}: {} + {} tags", keep.len(), other.len()),
            |m| {
                m.labels[label].tags = keep;
                m.labels.insert(
                    label + 1,
                    Label {
                        id: new_id,
                        name: new_name,
                        named_by: "placeholder".into(),
                        tags: other,
                    },
                );
                Ok(())
            },
        )
    }

    /// Re-runs clustering with `params` (reusing the PCA when only k, seed or threshold changed,
    /// see [`crate::tui::recluster`]) and replaces the map by the new draft. A new label keeps
    /// the name of an old one when they share most of their tags (Jaccard ≥ 0.5), so re-clustering
    /// with a new seed does not throw the naming work away.
    pub fn recluster(&mut self, params: CurationParams) -> Result<(), String> {
        let (ds, prev) = (&self.dataset, &self.curation);
        let c = match on_one_thread(|| recluster(ds, prev, &params)) {
            Ok(c) => c,
            Err(e) => {
                self.error(format!("re-cluster: {e}"));
                return Err(e.to_string());
            }
        };
        let mut next = LabelMap::from_curation(&c);
        carry_names(&self.map, &mut next);
        let what = format!(
            "re-clustered: {} labels, {} noise tags (components {}, k {}, threshold {}, seed {})",
            next.labels.len(),
            next.noise.len(),
            params.components,
            params.k,
            params.noise_threshold,
            params.seed
        );
        let old_curation = std::mem::replace(&mut self.curation, Arc::new(c));
        let res = self.edit(&what, |m| {
            *m = next;
            Ok(())
        });
        match res {
            Ok(()) => {
                if let Some(s) = self.undo.last_mut() {
                    s.curation = old_curation;
                }
                Ok(())
            }
            Err(e) => {
                self.curation = old_curation;
                Err(e)
            }
        }
    }

    /// Moves the selected noise tag to the label the LLM suggested.
    pub fn accept_suggestion(&mut self, tag: &str) -> Result<(), String> {
        let target = self
            .map
            .suggestions
            .iter()
            .find(|s| s.tag == tag)
            .and_then(|s| s.label)
            .and_then(|id| self.map.labels.iter().position(|l| l.id == id));
        match target {
            Some(i) => self.move_tag(tag, Dest::Label(i)),
            None => {
                let e = format!("no label suggested for {tag}; press N to ask the LLM");
                self.error(e.clone());
                Err(e)
            }
        }
    }
}

/// Gives each label of `next` the name of the `old` label it overlaps most, when they share at
/// least half of their combined tags and the name is still free.
fn carry_names(old: &LabelMap, next: &mut LabelMap) {
    let mut used: Vec<String> = Vec::new();
    for l in &mut next.labels {
        let best = old
            .labels
            .iter()
            .map(|o| {
                let inter = o.tags.iter().filter(|t| l.tags.contains(t)).count();
                let union = o.tags.len() + l.tags.len() - inter;
                (inter as f64 / union.max(1) as f64, o)
            })
            .max_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((j, o)) = best
            && j >= 0.5
            && !used.contains(&o.name.to_lowercase())
        {
            l.name = o.name.clone();
            l.named_by = o.named_by.clone();
            used.push(o.name.to_lowercase());
        }
    }
    // Placeholder names ("label 3") may now collide with a carried name; renumber those.
    for i in 0..next.labels.len() {
        let name = next.labels[i].name.to_lowercase();
        let clash = next
            .labels
            .iter()
            .enumerate()
            .any(|(j, o)| j != i && o.name.to_lowercase() == name);
        if clash && next.labels[i].named_by == "placeholder" {
            let mut n = next.labels[i].id;
            loop {
                let cand = format!("label {n}");
                if !next
                    .labels
                    .iter()
                    .any(|o| o.name.eq_ignore_ascii_case(&cand))
                {
                    next.labels[i].name = cand;
                    break;
                }
                n += 1;
            }
        }
    }
}
