//! Small XML look-ups for the example peers and the demo (the pipeline reads
//! its parsed document instead).

use quick_xml::Reader;
use quick_xml::events::Event;

/// The text of the first element whose local-name path ends with `suffix`.
pub fn text_at(xml: &[u8], suffix: &str) -> Option<String> {
    let mut reader = Reader::from_reader(xml);
    let mut path: Vec<String> = Vec::new();
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => {
                path.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned())
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Text(t) if path.join("/").ends_with(suffix) => {
                return t.decode().ok().map(|s| s.trim().to_owned());
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}
