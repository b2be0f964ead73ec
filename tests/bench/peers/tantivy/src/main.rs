//! Tantivy 0.27 as a keyword_bench peer: one index, built and queried over the peer protocol
//! of tests/bench/peer_process.h (requests on stdin, replies on stdout, UTF-8 lines).
//!
//!   tantivy-peer VARIANT INDEX_DIR
//!
//! Variants:
//!   ngram      Tantivy's own NgramTokenizer (1- and 2-character grams over the whole text,
//!              spaces included), lower-cased: what the library offers for CJK text.
//!   wordgram   a tokenizer written here for the comparison: the text split into words at
//!              anything not alphanumeric, each word lower-cased and given as itself plus its
//!              1- and 2-character grams (the analysis of keyword_bench's lucene-ngram row).
//! Both score with Tantivy's BM25 (k1 1.2, b 0.75); a query is the OR (Occur::Should) of one
//! TermQuery per token the field's analyzer makes from the query text. The peer times its own
//! queries after running them once untimed (at most 10 s), as the Lucene peer does.

use std::io::{BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST,
};
use tantivy::tokenizer::{
    LowerCaser, NgramTokenizer, TextAnalyzer, Token, TokenStream, Tokenizer,
};
use tantivy::{Index, IndexReader, IndexWriter, Searcher, TantivyDocument, Term};

/// Words (maximal runs of alphanumeric characters), each as itself and as its 1- and
/// 2-character grams, all at the word's position.
#[derive(Clone, Default)]
struct WordGramTokenizer;

struct VecTokenStream {
    tokens: Vec<Token>,
    next: usize,
}

impl TokenStream for VecTokenStream {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }
    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

impl Tokenizer for WordGramTokenizer {
    type TokenStream<'a> = VecTokenStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        let mut tokens = Vec::new();
        let mut position = 0;
        let mut push = |from: usize, to: usize, text: String, position: usize| {
            tokens.push(Token { offset_from: from, offset_to: to, position, text, position_length: 1 });
        };
        let mut chars = text.char_indices().peekable();
        while let Some(&(start, c)) = chars.peek() {
            if !c.is_alphanumeric() {
                chars.next();
                continue;
            }
            let mut word: Vec<(usize, char)> = Vec::new();
            while let Some(&(i, c)) = chars.peek() {
                if !c.is_alphanumeric() {
                    break;
                }
                word.push((i, c));
                chars.next();
            }
            let end = word.last().map(|&(i, c)| i + c.len_utf8()).unwrap_or(start);
            push(start, end, text[start..end].to_lowercase(), position);
            for (n, &(i, c)) in word.iter().enumerate() {
                let one_end = i + c.len_utf8();
                push(i, one_end, c.to_lowercase().collect(), position);
                if let Some(&(j, d)) = word.get(n + 1) {
                    push(i, j + d.len_utf8(), text[i..j + d.len_utf8()].to_lowercase(), position);
                }
            }
            position += 1;
        }
        VecTokenStream { tokens, next: 0 }
    }
}

struct Peer {
    index: Index,
    body: Field,
    ord: Field,
    analyzer: TextAnalyzer,
    reader: Option<IndexReader>,
    searcher: Option<Searcher>,
    ord_of_doc: Vec<Vec<u32>>, // per segment ordinal, per doc id
}

impl Peer {
    fn new(variant: &str, dir: PathBuf) -> tantivy::Result<Peer> {
        let analyzer = match variant {
            "ngram" => TextAnalyzer::builder(NgramTokenizer::new(1, 2, false)?).filter(LowerCaser).build(),
            "wordgram" => TextAnalyzer::builder(WordGramTokenizer).build(),
            other => panic!("unknown variant {other} (ngram, wordgram)"),
        };
        let mut schema = Schema::builder();
        let indexing = TextFieldIndexing::default()
            .set_tokenizer("peer")
            .set_index_option(IndexRecordOption::WithFreqsAndPositions);
        let body = schema.add_text_field("body", TextOptions::default().set_indexing_options(indexing));
        let ord = schema.add_u64_field("ord", FAST);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        let index = Index::create_in_dir(&dir, schema.build())?;
        index.tokenizers().register("peer", analyzer.clone());
        Ok(Peer { index, body, ord, analyzer, reader: None, searcher: None, ord_of_doc: Vec::new() })
    }

    fn build(&mut self, texts: &[String]) -> tantivy::Result<()> {
        let mut writer: IndexWriter = self.index.writer_with_num_threads(1, 256_000_000)?;
        for (i, text) in texts.iter().enumerate() {
            let mut doc = TantivyDocument::default();
            doc.add_text(self.body, text);
            doc.add_u64(self.ord, i as u64);
            writer.add_document(doc)?;
        }
        writer.commit()?;
        writer.wait_merging_threads()?;
        let reader = self.index.reader()?;
        let searcher = reader.searcher();
        self.ord_of_doc = searcher
            .segment_readers()
            .iter()
            .map(|segment| {
                let ords = segment.fast_fields().u64("ord").expect("ord is a fast field");
                (0..segment.max_doc()).map(|d| ords.first(d).expect("every document has an ord") as u32).collect()
            })
            .collect();
        self.reader = Some(reader);
        self.searcher = Some(searcher);
        Ok(())
    }

    fn query(&mut self, text: &str) -> Option<BooleanQuery> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut stream = self.analyzer.token_stream(text);
        while let Some(token) = stream.next() {
            let term = Term::from_field_text(self.body, &token.text);
            clauses.push((Occur::Should, Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs))));
        }
        if clauses.is_empty() {
            None
        } else {
            Some(BooleanQuery::new(clauses))
        }
    }

    fn search(&mut self, text: &str, k: usize) -> tantivy::Result<Vec<u32>> {
        let Some(query) = self.query(text) else { return Ok(Vec::new()) };
        let searcher = self.searcher.as_ref().expect("built");
        let hits = searcher.search(&query, &TopDocs::with_limit(k).order_by_score())?;
        Ok(hits
            .into_iter()
            .map(|(_, address)| self.ord_of_doc[address.segment_ord as usize][address.doc_id as usize])
            .collect())
    }
}

fn index_bytes(dir: &PathBuf) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok()?.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

fn main() -> tantivy::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: tantivy-peer ngram|wordgram INDEX_DIR");
        std::process::exit(2);
    }
    let dir = PathBuf::from(&args[2]);
    let mut peer = Peer::new(&args[1], dir.clone())?;
    let stdin = std::io::stdin();
    let mut input = stdin.lock().lines();
    let mut out = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    let mut read_line = move || input.next().map(|l| l.expect("utf-8 input"));
    while let Some(line) = read_line() {
        let f: Vec<&str> = line.split('\t').collect();
        match f[0] {
            "build" => {
                let n: usize = f[1].parse().expect("count");
                let texts: Vec<String> = (0..n)
                    .map(|_| {
                        let doc = read_line().expect("a document line");
                        doc.split_once('\t').map(|(_, t)| t.to_string()).unwrap_or_default()
                    })
                    .collect();
                peer.build(&texts)?;
                writeln!(out, "built\t{}\ton disk (Tantivy 0.27 {}, with positions)", index_bytes(&dir), args[1])?;
            }
            "search" => {
                let k: usize = f[1].parse().expect("k");
                let n: usize = f[2].parse().expect("count");
                let budget: f64 = f[3].parse().expect("budget");
                let min_seconds: f64 = f[4].parse().expect("min");
                let queries: Vec<String> = (0..n).map(|_| read_line().expect("a query line")).collect();
                let budget = if budget <= 0.0 { f64::INFINITY } else { budget };
                if budget.is_finite() {
                    let warm = Instant::now();
                    for q in &queries {
                        if warm.elapsed().as_secs_f64() >= 10.0 {
                            break;
                        }
                        peer.search(q, k)?;
                    }
                }
                let mut results: Vec<Vec<u32>> = Vec::with_capacity(n);
                let start = Instant::now();
                while results.len() < n && (results.is_empty() || start.elapsed().as_secs_f64() < budget) {
                    results.push(peer.search(&queries[results.len()], k)?);
                }
                let mut seconds = start.elapsed().as_secs_f64();
                let mut timed = results.len();
                while seconds < min_seconds {
                    let again = Instant::now();
                    for q in &queries[..results.len()] {
                        peer.search(q, k)?;
                    }
                    seconds += again.elapsed().as_secs_f64();
                    timed += results.len();
                }
                for hits in &results {
                    let line: Vec<String> = hits.iter().map(|h| h.to_string()).collect();
                    writeln!(out, "{}", line.join(" "))?;
                }
                writeln!(out, "searched\t{}\t{}\t{}", results.len(), timed, seconds)?;
            }
            other => panic!("unknown request '{other}'"),
        }
        out.flush()?;
    }
    Ok(()) // end of input
}
