//! Seed data for the simulator: what both systems hold before the first request.

use std::time::Duration;

use chrono::{Days, NaiveDate, Utc};

/// Everything the simulator starts with.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub jobs: Vec<SimJob>,
    pub applications: Vec<SimApplication>,
    /// Already in HiBob before the first pass.
    pub existing_employees: Vec<SimEmployeeSeed>,
    /// Values of the HiBob named list `site`.
    pub sites: Vec<String>,
    /// Values of the HiBob named list `department`.
    pub departments: Vec<String>,
    /// New employees stay invisible to search for this long.
    pub hibob_read_lag: Duration,
    /// Fixed window per endpoint, applied to people search and people create.
    pub hibob_rate_limit: Option<WindowLimit>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowLimit {
    pub limit: u32,
    pub window: Duration,
}

#[derive(Clone, Debug)]
pub struct SimJob {
    pub id: String,
    pub title: String,
    pub visibility: Visibility,
    /// Served as an included `departments` record (`include=job.department`).
    pub department: Option<String>,
    /// Served as an included `locations` record (`include=job.location`).
    pub location: Option<String>,
}

/// An offer on an application (`include=offers`); the accepted one carries the start date.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimOffer {
    pub id: String,
    /// `accepted`, `declined`, `sent`, …
    pub status: String,
    /// `YYYY-MM-DD`.
    pub start_on: String,
}

/// Job visibility; the query names are `external`, `internal`, `private_job`, `confidential`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visibility {
    External,
    Internal,
    PrivateJob,
    Confidential,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::External => "external",
            Visibility::Internal => "internal",
            Visibility::PrivateJob => "private_job",
            Visibility::Confidential => "confidential",
        }
    }

    pub fn parse(s: &str) -> Option<Visibility> {
        match s {
            "external" => Some(Visibility::External),
            "internal" => Some(Visibility::Internal),
            "private_job" => Some(Visibility::PrivateJob),
            "confidential" => Some(Visibility::Confidential),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct SimApplication {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: Option<String>,
    pub job_id: String,
    pub stage: Stage,
    pub cv: CvFiles,
    /// The `linkedin_url` attribute.
    pub linkedin: Option<String>,
    /// When it entered a Hired stage (`hired_at`), when a test needs a particular moment;
    /// `None`: an hour before the simulator started (or the moment it is added or moved to
    /// Hired while the simulator runs).
    pub hired_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The application attribute `start_on` (`YYYY-MM-DD`), null unless set.
    pub start_on: Option<String>,
    pub offers: Vec<SimOffer>,
    /// Custom attributes as (key, value), served with `include=custom_attributes`.
    pub custom_attributes: Vec<(String, String)>,
    /// The size of each CV file served, when a test needs a large one (HiBob refuses files
    /// over [`super::HIBOB_MAX_DOCUMENT_BYTES`]); `None` for a small realistic file.
    pub cv_bytes: Option<usize>,
}

/// Pipeline stage. A live application names its stage only by `stage_id` (and the `stage`
/// relationship); the group a stage belongs to (`basic_type` here) is what the listing filter
/// `filter[stage_basic_type]` selects by, and never appears on the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Applied,
    Interview,
    Offer,
    Hired,
    Rejected,
}

impl Stage {
    /// Stage ids shaped like a live tenant's (`"1539024"`).
    pub fn id(self) -> &'static str {
        match self {
            Stage::Applied => "1539021",
            Stage::Interview => "1539022",
            Stage::Offer => "1539023",
            Stage::Hired => "1539024",
            Stage::Rejected => "1539025",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Stage::Applied => "Applied",
            Stage::Interview => "Interview",
            Stage::Offer => "Offer",
            Stage::Hired => "Hired",
            Stage::Rejected => "Rejected",
        }
    }

    pub fn basic_type(self) -> &'static str {
        match self {
            Stage::Applied => "applied",
            Stage::Interview => "interview",
            Stage::Offer => "offer",
            Stage::Hired => "hired",
            Stage::Rejected => "rejected",
        }
    }
}

/// Which CV attachments an application carries: `cv` is the original upload, `pdf_cv` its PDF rendition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CvFiles {
    None,
    CvOnly,
    PdfOnly,
    Both,
}

#[derive(Clone, Debug)]
pub struct SimEmployeeSeed {
    pub first_name: String,
    pub surname: String,
    pub email: String,
    pub site: String,
    pub start_date: NaiveDate,
    /// A former employee: terminated on this day (inactive, `lifecycleStatus` "terminated").
    pub termination_date: Option<NaiveDate>,
}

impl SimApplication {
    /// A hired application with a PDF CV; adjust fields as needed.
    pub fn hired(id: &str, first_name: &str, last_name: &str, email: &str, job_id: &str) -> Self {
        SimApplication {
            id: id.to_string(),
            first_name: first_name.to_string(),
            last_name: last_name.to_string(),
            email: email.to_string(),
            phone: None,
            job_id: job_id.to_string(),
            stage: Stage::Hired,
            cv: CvFiles::PdfOnly,
            linkedin: None,
            hired_at: None,
            start_on: None,
            offers: Vec::new(),
            custom_attributes: Vec::new(),
            cv_bytes: None,
        }
    }

    /// The `(context, filename)` attachments this application exposes, in a fixed order.
    pub fn attachment_files(&self) -> Vec<(&'static str, String)> {
        let stem = format!("{}_{}", self.id, ascii_slug(&self.last_name));
        // The original upload is a .docx for some ids so clients meet a non-PDF `cv`.
        let original_ext = if self.id.bytes().last().unwrap_or(b'0').is_multiple_of(3) {
            "docx"
        } else {
            "pdf"
        };
        match self.cv {
            CvFiles::None => vec![],
            CvFiles::CvOnly => vec![("cv", format!("{stem}_resume.{original_ext}"))],
            CvFiles::PdfOnly => vec![("pdf_cv", format!("{stem}_cv.pdf"))],
            CvFiles::Both => vec![
                ("pdf_cv", format!("{stem}_cv.pdf")),
                ("cv", format!("{stem}_resume.{original_ext}")),
            ],
        }
    }
}

impl Scenario {
    /// No jobs, no applications, no employees; default lists, no lag, no rate limit.
    pub fn empty() -> Self {
        Scenario {
            jobs: vec![],
            applications: vec![],
            existing_employees: vec![],
            sites: vec!["New York (Demo)".into(), "London".into(), "Tel Aviv".into()],
            departments: [
                "Engineering",
                "Product",
                "Sales",
                "Marketing",
                "People",
                "Finance",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            hibob_read_lag: Duration::ZERO,
            hibob_rate_limit: None,
        }
    }

    /// Builder: add a job.
    pub fn with_job(mut self, id: &str, title: &str, visibility: Visibility) -> Self {
        self.jobs.push(SimJob {
            id: id.into(),
            title: title.into(),
            visibility,
            department: None,
            location: None,
        });
        self
    }

    /// Builder: add an application.
    pub fn with_application(mut self, app: SimApplication) -> Self {
        self.applications.push(app);
        self
    }

    /// Builder: add an employee that exists before the first pass.
    pub fn with_employee(mut self, seed: SimEmployeeSeed) -> Self {
        self.existing_employees.push(seed);
        self
    }

    pub fn with_read_lag(mut self, lag: Duration) -> Self {
        self.hibob_read_lag = lag;
        self
    }

    pub fn with_rate_limit(mut self, limit: u32, window: Duration) -> Self {
        self.hibob_rate_limit = Some(WindowLimit { limit, window });
        self
    }

    /// A realistic, deterministic tenant for the `demo` command.
    ///
    /// 36 hires (varied names, some Unicode), 6 without CV, 4 with only `cv`, 4 on confidential
    /// jobs, 2 whose email already exists in HiBob (one of them not yet active), and 8
    /// applications in earlier stages that a sync must ignore.
    pub fn demo() -> Self {
        let mut s = Scenario::empty();
        for (id, title, vis) in DEMO_JOBS {
            s = s.with_job(id, title, vis);
        }
        s.applications = demo_applications();
        s.existing_employees = demo_existing_employees();
        s
    }

    /// `hires` hired applications with deterministic varied data derived from `seed`.
    ///
    /// About 80% carry a `pdf_cv`, 10% only a `cv`, 10% none; about 10% are on confidential
    /// jobs; roughly one non-hired application per 20 hires (at least 3) is interleaved.
    pub fn generated(hires: usize, seed: u64) -> Self {
        let mut s = Scenario::empty();
        for (id, title, vis) in GENERATED_JOBS {
            s = s.with_job(id, title, vis);
        }
        let mut rng = SplitMix(seed);
        let extra = (hires / 20).max(3);
        let total = hires + extra;
        let every = (total / extra).max(1);
        let mut placed_extra = 0;
        let mut placed_hires = 0;
        for i in 0..total {
            let id = 1_000_001 + i as u64;
            let first =
                GENERATED_FIRST_NAMES[rng.below(GENERATED_FIRST_NAMES.len() as u64) as usize];
            let last = GENERATED_SURNAMES[rng.below(GENERATED_SURNAMES.len() as u64) as usize];
            let want_extra =
                placed_extra < extra && (i % every == every - 1 || placed_hires >= hires);
            let stage = if want_extra {
                placed_extra += 1;
                [Stage::Applied, Stage::Interview, Stage::Offer][rng.below(3) as usize]
            } else {
                placed_hires += 1;
                Stage::Hired
            };
            let job = if rng.below(10) == 0 {
                ["7", "8"][rng.below(2) as usize]
            } else {
                ["1", "2", "3", "4", "5", "6"][rng.below(6) as usize]
            };
            let cv = match rng.below(10) {
                0 => CvFiles::None,
                1 => CvFiles::CvOnly,
                2..=5 => CvFiles::Both,
                _ => CvFiles::PdfOnly,
            };
            let email = format!(
                "{}.{}.{}@example.com",
                ascii_slug(first),
                ascii_slug(last),
                id
            );
            let mut app = SimApplication::hired(&id.to_string(), first, last, &email, job);
            app.stage = stage;
            app.cv = cv;
            app.phone =
                (rng.below(3) != 0).then(|| format!("+44 20 7946 {:04}", rng.below(10_000)));
            s.applications.push(app);
        }
        s
    }
}

/// The names generated tenants draw from, some of them Unicode.
const GENERATED_FIRST_NAMES: [&str; 20] = [
    "Ada", "Zoë", "José", "Grace", "Søren", "Chloé", "Łukasz", "Mei", "Rahul", "Fatima", "Jonas",
    "Amélie", "Kwame", "Ingrid", "Tomás", "Yuki", "Olga", "Priya", "Noa", "Ethan",
];
const GENERATED_SURNAMES: [&str; 20] = [
    "Lovelace",
    "Ångström",
    "Núñez",
    "Hopper",
    "Kjær",
    "Dubois",
    "Wiśniewski",
    "Chen",
    "Sharma",
    "Al-Sayed",
    "Müller",
    "Lefèvre",
    "Mensah",
    "Bergström",
    "Ruiz",
    "Tanaka",
    "Petrova",
    "Raghunathan",
    "Levi",
    "Walker",
];

/// Generated tenants' jobs: ids "7" and "8" are confidential.
const GENERATED_JOBS: [(&str, &str, Visibility); 8] = [
    ("1", "Backend Engineer", Visibility::External),
    ("2", "Frontend Engineer", Visibility::External),
    ("3", "Account Executive", Visibility::External),
    ("4", "Customer Success Manager", Visibility::External),
    ("5", "Data Analyst", Visibility::Internal),
    ("6", "Recruiter", Visibility::PrivateJob),
    ("7", "Chief of Staff", Visibility::Confidential),
    ("8", "General Counsel", Visibility::Confidential),
];

/// The demo tenant's jobs: id, title, visibility (two confidential).
const DEMO_JOBS: [(&str, &str, Visibility); 8] = [
    ("101", "Senior Backend Engineer", Visibility::External),
    ("102", "Product Designer", Visibility::External),
    ("103", "Account Executive", Visibility::External),
    ("104", "Data Analyst", Visibility::Internal),
    ("105", "People Partner", Visibility::PrivateJob),
    ("106", "Site Reliability Engineer", Visibility::External),
    ("107", "VP Finance", Visibility::Confidential),
    ("108", "Head of Security", Visibility::Confidential),
];

/// The demo tenant's hires: first name, surname, job, CV files, whether a phone is on file.
const DEMO_HIRES: [(&str, &str, &str, CvFiles, bool); 36] = {
    use CvFiles::*;
    [
        ("Ada", "Lovelace", "101", Both, true),
        ("Zoë", "Ångström", "102", PdfOnly, true),
        ("José", "Núñez", "103", Both, false),
        ("Grace", "Hopper", "101", PdfOnly, true),
        ("Søren", "Kjær", "106", None, false),
        ("Chloé", "Dubois", "102", Both, true),
        ("Łukasz", "Wiśniewski", "101", CvOnly, true),
        ("Aoife", "Ó Briain", "104", PdfOnly, false),
        ("Nguyễn", "Thị Minh", "103", Both, true),
        ("Björn", "Järvinen", "106", PdfOnly, true),
        ("Siobhán", "O'Connor", "105", None, false),
        ("Mei", "Chen", "107", PdfOnly, true),
        ("Rahul", "Sharma", "101", Both, true),
        ("Fatima", "Al-Sayed", "103", PdfOnly, false),
        ("Jonas", "Müller", "104", CvOnly, true),
        ("Amélie", "Lefèvre", "102", PdfOnly, true),
        ("Kwame", "Mensah", "106", None, true),
        ("Ingrid", "Bergström", "108", Both, false),
        ("Tomás", "Ruiz", "103", PdfOnly, true),
        ("Yuki", "Tanaka", "101", PdfOnly, true),
        ("Olga", "Petrova", "104", None, false),
        ("Mateo", "García", "105", Both, true),
        ("Priya", "Raghunathan", "101", PdfOnly, true),
        ("Liam", "O'Brien", "103", CvOnly, false),
        ("Noa", "Levi", "106", PdfOnly, true),
        ("Hannah", "Schmidt", "107", None, true),
        ("Ethan", "Walker", "102", Both, false),
        ("Chiara", "Bianchi", "103", PdfOnly, true),
        ("Dmitri", "Ivanov", "101", PdfOnly, true),
        ("Leïla", "Benali", "104", Both, true),
        ("Oscar", "Lindqvist", "108", PdfOnly, false),
        ("Sakura", "Yamamoto", "106", CvOnly, true),
        ("Gabriel", "Silva", "103", None, true),
        ("Eva", "Novák", "102", PdfOnly, false),
        ("Arjun", "Mehta", "101", Both, true),
        ("Margaret", "Hamilton", "106", PdfOnly, true),
    ]
};

/// Applications in earlier stages, which a sync must leave alone.
const DEMO_NOT_HIRED: [(&str, &str, &str, Stage); 8] = [
    ("Alan", "Turing", "101", Stage::Offer),
    ("Katherine", "Johnson", "104", Stage::Interview),
    ("Linus", "Berg", "106", Stage::Applied),
    ("Marie", "Curie", "107", Stage::Offer),
    ("Émile", "Zola", "102", Stage::Applied),
    ("Rosa", "Parks", "103", Stage::Interview),
    ("Niels", "Bohr", "108", Stage::Applied),
    ("Hedy", "Lamarr", "105", Stage::Interview),
];

/// The demo's applications, the two groups interleaved so any page holds both kinds: a
/// listing must pick the hires out of it.
fn demo_applications() -> Vec<SimApplication> {
    let mut applications = Vec::new();
    let mut next_id = 8_863_880u64;
    let mut nh = DEMO_NOT_HIRED.iter();
    for (i, (first, last, job, cv, phone)) in DEMO_HIRES.iter().enumerate() {
        if i % 4 == 2
            && let Some((f, l, j, stage)) = nh.next()
        {
            let mut app = SimApplication::hired(&next_id.to_string(), f, l, &demo_email(f, l), j);
            app.stage = *stage;
            app.cv = CvFiles::Both;
            applications.push(app);
            next_id += 7;
        }
        let mut app = SimApplication::hired(
            &next_id.to_string(),
            first,
            last,
            &demo_email(first, last),
            job,
        );
        app.cv = *cv;
        app.phone = phone.then(|| format!("+1 555 01{:02}", i));
        applications.push(app);
        next_id += 7;
    }
    applications
}

/// The people HiBob holds before the demo's first pass. Grace exists with a differently
/// cased email (matching must be case-insensitive); Margaret was added in HiBob by hand and
/// starts in three weeks, so she is inactive; Dana is no hire at all.
fn demo_existing_employees() -> Vec<SimEmployeeSeed> {
    vec![
        SimEmployeeSeed {
            first_name: "Grace".into(),
            surname: "Hopper".into(),
            email: "Grace.Hopper@Example.com".into(),
            site: "New York (Demo)".into(),
            start_date: NaiveDate::from_ymd_opt(2024, 3, 4).expect("valid date"),
            termination_date: None,
        },
        SimEmployeeSeed {
            first_name: "Margaret".into(),
            surname: "Hamilton".into(),
            email: demo_email("Margaret", "Hamilton"),
            site: "London".into(),
            termination_date: None,
            start_date: Utc::now().date_naive() + Days::new(21),
        },
        SimEmployeeSeed {
            first_name: "Dana".into(),
            surname: "Scully".into(),
            email: "dana.scully@example.com".into(),
            termination_date: None,
            site: "Tel Aviv".into(),
            start_date: NaiveDate::from_ymd_opt(2022, 9, 1).expect("valid date"),
        },
    ]
}

fn demo_email(first: &str, last: &str) -> String {
    format!("{}.{}@example.com", ascii_slug(first), ascii_slug(last))
}

/// Lowercase ASCII rendering of a name, safe in emails and URL paths.
pub(crate) fn ascii_slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().flat_map(|c| c.to_lowercase()) {
        let mapped = match c {
            'a'..='z' | '0'..='9' => Some(c),
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => Some('a'),
            'ç' => Some('c'),
            'è' | 'é' | 'ê' | 'ë' | 'ễ' => Some('e'),
            'ì' | 'í' | 'î' | 'ï' | 'ị' => Some('i'),
            'ñ' => Some('n'),
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => Some('o'),
            'ù' | 'ú' | 'û' | 'ü' => Some('u'),
            'ý' | 'ÿ' => Some('y'),
            'ł' => Some('l'),
            'ś' | 'š' => Some('s'),
            'æ' => Some('a'),
            _ => None,
        };
        match mapped {
            Some(m) => out.push(m),
            None if c == ' ' || c == '-' => out.push('-'),
            None => {}
        }
    }
    if out.is_empty() { "x".into() } else { out }
}

/// Small deterministic PRNG so generated scenarios (and tests' printed seeds) never depend on
/// a library's stream.
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}
