//! The hired-stage listing as a stream of pages: every filter's first page, then each
//! page's `links.next`, read one page ahead. Either everything (sorted by `id`), or what
//! changed since a moment (sorted by `-updated_at`, ending at the first page that reaches
//! back before it).
//!
//! Owns the read-ahead and the guards that make a misbehaving server end the listing instead
//! of the pass never ending. It keeps one page's ids and the page addresses, never every id
//! listed, so memory stays flat however large the tenant. It knows nothing of the ledger.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;

use super::model::ApplicationId;
use super::{ApplicationsPage, ListedPage, PageRequest, PinpointClient};
use crate::http::ApiError;

/// One page of the listing, as read.
#[derive(Debug)]
pub struct Page {
    /// 1-based, within its filter's listing.
    pub number: u32,
    pub page: ApplicationsPage,
    /// When its read began: drift then skips hires changed since, never the reverse.
    pub fetched_at: DateTime<Utc>,
}

/// Why the listing ended before its last page.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ListingError {
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The task reading a page ended abnormally (a panic or an abort).
    #[error("the listing read ended abnormally: {0}")]
    Aborted(String),
    /// The server ignores paging: the listing would never end.
    #[error(
        "Pinpoint answered page {page} of the listing with {what}, so it seems to ignore paging; stopped there so the pass ends (the hires listed so far were reconciled)"
    )]
    IgnoresPaging { page: u32, what: &'static str },
}

type Fetch = (DateTime<Utc>, JoinHandle<Result<ListedPage, ApiError>>);

/// The listing, page by page. Dropping it cancels the page being read ahead.
pub struct Listing {
    pinpoint: PinpointClient,
    /// First pages of the filters not started yet, in order.
    firsts: std::vec::IntoIter<PageRequest>,
    ahead: Option<Fetch>,
    /// Within one filter's listing: the previous page's ids and every address requested.
    previous_ids: HashSet<ApplicationId>,
    requested: HashSet<String>,
    pages_in_listing: u32,
    ended: bool,
    /// Listing what changed: sorted by `-updated_at`, each filter's listing ends after the
    /// first page that reaches back before this moment.
    since: Option<DateTime<Utc>>,
    /// Within one filter's listing: the oldest `updated_at` listed so far.
    oldest_so_far: Option<DateTime<Utc>>,
    /// A page of a listing of what changed was not in `-updated_at` order: the server seems to
    /// ignore `sort`, so that listing was read to its end instead.
    pub sort_contradicted: bool,
}

impl Listing {
    pub fn new(pinpoint: &PinpointClient) -> Self {
        Listing {
            firsts: pinpoint.first_pages().into_iter(),
            pinpoint: pinpoint.clone(),
            ahead: None,
            previous_ids: HashSet::new(),
            requested: HashSet::new(),
            pages_in_listing: 0,
            ended: false,
            since: None,
            oldest_so_far: None,
            sort_contradicted: false,
        }
    }

    /// The listing of what changed since `since`: sorted by `-updated_at` (the most recently
    /// changed first; a hire entering the stage, or any change to it, moves it to the top),
    /// each filter's listing ending after the first page that reaches back before `since`
    /// (every later page is older still). A page out of that order ends nothing: the server
    /// seems to ignore `sort`, and its listing is read to the end ([`Self::sort_contradicted`]).
    pub fn changed_since(pinpoint: &PinpointClient, since: DateTime<Utc>) -> Self {
        let mut listing = Listing::new(pinpoint);
        listing.firsts = pinpoint.first_changed_pages().into_iter();
        listing.since = Some(since);
        listing
    }

    /// The next page, `None` after the last one, or the error that ended the listing (after
    /// which it yields nothing more).
    pub async fn next_page(&mut self) -> Option<Result<Page, ListingError>> {
        if self.ended {
            return None;
        }
        let (fetched_at, fetch) = match self.ahead.take() {
            Some(fetch) => fetch,
            None => {
                let first = self.firsts.next()?;
                self.previous_ids.clear();
                self.requested.clear();
                self.pages_in_listing = 0;
                self.oldest_so_far = None;
                self.read(first)
            }
        };
        let read = match fetch.await {
            Ok(Ok(listed)) => self.check(listed),
            Ok(Err(e)) => Err(ListingError::Api(e)),
            Err(e) => Err(ListingError::Aborted(e.to_string())),
        };
        match read {
            Ok((page, next)) => {
                // The next page is read while this one is worked, so a large tenant's pass
                // costs about the longer of Pinpoint's time and ours, not their sum.
                self.ahead = next.map(|next| self.read(next));
                Some(Ok(Page {
                    number: self.pages_in_listing,
                    page,
                    fetched_at,
                }))
            }
            Err(e) => {
                self.ended = true;
                Some(Err(e))
            }
        }
    }

    fn read(&self, request: PageRequest) -> Fetch {
        let pinpoint = self.pinpoint.clone();
        let started = Utc::now();
        (
            started,
            tokio::spawn(async move { pinpoint.fetch_page(&request).await }),
        )
    }

    /// A server that ignores paging answers every page with the same applications, and one
    /// whose links loop sends us back to a page already read; either would never end the
    /// listing.
    fn check(
        &mut self,
        listed: ListedPage,
    ) -> Result<(ApplicationsPage, Option<PageRequest>), ListingError> {
        self.pages_in_listing += 1;
        let page = listed.page;
        let ids: HashSet<ApplicationId> = page
            .applications
            .iter()
            .map(|a| Some(&a.id))
            .chain(page.unusable.iter().map(|u| u.id.as_ref()))
            .flatten()
            .cloned()
            .collect();
        let repeats_previous = self.pages_in_listing > 1
            && page.records > 0
            && !ids.is_empty()
            // Equal, not merely contained: a listing that shifted between two reads
            // legitimately repeats a few of the previous page's applications.
            && ids == self.previous_ids;
        let loops = listed
            .next
            .as_ref()
            .is_some_and(|next| !self.requested.insert(next.url.to_string()));
        if repeats_previous || loops {
            return Err(ListingError::IgnoresPaging {
                page: self.pages_in_listing,
                what: if loops {
                    "a link back to a page it had already sent"
                } else {
                    "exactly the applications of the page before"
                },
            });
        }
        self.previous_ids = ids;
        let since = self.since;
        let mut page = page;
        let next = listed.next.filter(|_| !self.reaches_back_past_since(&page));
        if let Some(since) = since.filter(|_| !self.sort_contradicted) {
            // Older than that, a hire was seen by a complete pass and has not changed since.
            page.keep_changed_since(since);
        }
        Ok((page, next))
    }

    /// Whether this page of a listing of what changed holds an application last changed
    /// before `since`: then, the listing being in `-updated_at` order, every later page is
    /// older still. A record without `updated_at` proves nothing (never stop on it); a page
    /// out of order, or newer than the page before, means `sort` is ignored: from then on
    /// this listing is read to its end.
    fn reaches_back_past_since(&mut self, page: &ApplicationsPage) -> bool {
        let Some(since) = self.since else {
            return false;
        };
        let Some(times) = page.updated.iter().copied().collect::<Option<Vec<_>>>() else {
            return false;
        };
        let in_order = times.windows(2).all(|w| w[0] >= w[1])
            && match (self.oldest_so_far, times.first()) {
                (Some(oldest), Some(first)) => *first <= oldest,
                _ => true,
            };
        if !in_order {
            tracing::warn!(
                page = self.pages_in_listing,
                "Pinpoint listed applications out of -updated_at order: it seems to ignore \
                 `sort`; reading the whole listing this pass"
            );
            self.sort_contradicted = true;
            self.since = None;
            return false;
        }
        if let Some(last) = times.last() {
            self.oldest_so_far = Some(*last);
        }
        times.last().is_some_and(|last| *last < since)
    }
}

impl Drop for Listing {
    fn drop(&mut self) {
        if let Some((_, fetch)) = self.ahead.take() {
            fetch.abort();
        }
    }
}
