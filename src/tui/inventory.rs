//! The version inventory over the screen (`8`, `:inv`): what runs where, drift marked.
//! Read in the background ([`Effect::LoadInventory`]), again with `ctrl-r`; `esc` closes;
//! `j`/`k` move the cursor over the lines, `p` promotes the release under it
//! ([`crate::tui::promote`]).

use crate::core::inventory::{Grid, Inventory};
use crate::tui::app::{App, Effect};
use crate::tui::keymap::Action;
use crossterm::event::KeyEvent;

/// The inventory view: the grid once read, or why it could not be.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InventoryView {
    pub grid: Option<Result<Grid, String>>,
    /// What was read, for the promotion (`p`).
    pub inventory: Option<Inventory>,
    /// Unreachable environments and why: `(name, reason)`.
    pub unreachable: Vec<(String, String)>,
    /// A read is under way.
    pub loading: bool,
    /// The line of the grid the cursor is on (the view scrolls to keep it shown).
    pub selected: usize,
}

impl InventoryView {
    /// The view of a read inventory.
    pub fn of(result: Result<Inventory, String>) -> InventoryView {
        let unreachable = result
            .as_ref()
            .map(|inv| {
                inv.environments
                    .iter()
                    .filter(|e| !e.reachable)
                    .map(|e| (e.name.clone(), e.error.clone().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        InventoryView {
            grid: Some(result.as_ref().map(Grid::of).map_err(Clone::clone)),
            inventory: result.ok(),
            unreachable,
            loading: false,
            selected: 0,
        }
    }

    /// The release (index into the inventory's releases) of the line under the cursor.
    pub fn selected_release(&self) -> Option<usize> {
        let grid = self.grid.as_ref()?.as_ref().ok()?;
        grid.rows
            .get(self.selected.min(grid.rows.len().saturating_sub(1)))
            .map(|r| r.release)
    }

    /// How many lines the grid has.
    fn lines(&self) -> usize {
        match &self.grid {
            Some(Ok(g)) => g.rows.len(),
            _ => 0,
        }
    }
}

impl App {
    /// `8` / `:inv`: the inventory over the screen, read now (once: not again while a read
    /// is under way, which ends within its timeout).
    pub fn open_inventory(&mut self) -> Vec<Effect> {
        if self.inventory.as_ref().is_some_and(|v| v.loading) {
            return Vec::new();
        }
        let previous = self.inventory.take().unwrap_or_default();
        self.inventory = Some(InventoryView {
            grid: previous.grid,
            inventory: previous.inventory,
            loading: true,
            selected: previous.selected,
            ..Default::default()
        });
        vec![Effect::LoadInventory]
    }

    /// The inventory read in the background.
    pub fn on_inventory(&mut self, result: Result<Inventory, String>) {
        let Some(open) = &self.inventory else {
            return;
        };
        let selected = open.selected;
        let mut view = InventoryView::of(result);
        view.selected = selected.min(view.lines().saturating_sub(1));
        self.inventory = Some(view);
    }

    /// Keys while the inventory is open: move, promote, refresh, close.
    pub fn on_inventory_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.code == crossterm::event::KeyCode::Char('p') && key.modifiers.is_empty() {
            return self.open_promotion();
        }
        let action = self.keymap.action_for(self.screen, &key);
        let Some(view) = &mut self.inventory else {
            return Vec::new();
        };
        match action {
            Some(Action::Back | Action::ViewInventory) => {
                self.inventory = None;
                Vec::new()
            }
            Some(Action::Refresh) => self.open_inventory(),
            Some(Action::Down) => {
                view.selected = (view.selected + 1).min(view.lines().saturating_sub(1));
                Vec::new()
            }
            Some(Action::Up) => {
                view.selected = view.selected.saturating_sub(1);
                Vec::new()
            }
            Some(Action::Top) => {
                view.selected = 0;
                Vec::new()
            }
            Some(Action::Quit) => {
                self.quit = true;
                Vec::new()
            }
            Some(Action::CommandMode) => self.on_action(Action::CommandMode),
            _ => Vec::new(),
        }
    }
}

/// Reads the inventory (each environment within 5 s) and sends it back.
pub async fn load(
    config: crate::config::Config,
    kubeconfig: Option<std::path::PathBuf>,
    repo: Option<String>,
    tx: tokio::sync::mpsc::UnboundedSender<crate::tui::app::Msg>,
) {
    let result = crate::core::inventory::read::from_config(
        &config,
        kubeconfig.as_deref(),
        repo.as_deref(),
        std::time::Duration::from_secs(5),
    )
    .await
    .map_err(|e| format!("{e:#}"));
    let _ = tx.send(crate::tui::app::Msg::Inventory(result));
}
