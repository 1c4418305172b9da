//! Seeded synthetic reviews with a learnable signal, so a config runs with no data files.
//!
//! Each review mixes neutral filler with a few sentiment words. A word from the review's own
//! polarity is three times as likely as one from the other side, so the labels are learnable
//! but not perfectly separable.

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::data::Review;

const POSITIVE: &[&str] = &[
    "great",
    "delicious",
    "love",
    "perfect",
    "excellent",
    "tasty",
    "wonderful",
    "fresh",
    "best",
    "recommend",
    "favorite",
    "yummy",
];
const NEGATIVE: &[&str] = &[
    "awful",
    "bland",
    "stale",
    "disappointed",
    "terrible",
    "worst",
    "broken",
    "refund",
    "waste",
    "gross",
    "bitter",
    "return",
];
const NEUTRAL: &[&str] = &[
    "the", "coffee", "tea", "bag", "box", "this", "was", "it", "and", "a", "price", "flavor",
    "ordered", "package", "my", "kids", "snack", "arrived", "taste", "product", "amazon", "brand",
    "chips", "sauce", "cookies", "with", "for", "of",
];

/// Generates `count` reviews from `seed`, about half of them positive.
pub fn reviews(count: usize, seed: u64) -> Vec<Review> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count).map(|_| review(&mut rng)).collect()
}

fn review(rng: &mut ChaCha8Rng) -> Review {
    let label = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
    let (own, other) = if label > 0.0 {
        (POSITIVE, NEGATIVE)
    } else {
        (NEGATIVE, POSITIVE)
    };
    let length = rng.random_range(6..16);
    let mut words = Vec::with_capacity(length + 1);
    for _ in 0..length {
        let pool = match rng.random_range(0..8) {
            0..=2 => own,
            3 => other,
            _ => NEUTRAL,
        };
        words.push(*pool.choose(rng).expect("word lists are not empty"));
    }
    let end = if label > 0.0 && rng.random_bool(0.3) {
        "!"
    } else {
        "."
    };
    let mut text = words.join(" ");
    text.push_str(end);
    Review { label, text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_reviews() {
        assert_eq!(reviews(50, 7), reviews(50, 7));
        assert_ne!(reviews(50, 7), reviews(50, 8));
    }

    #[test]
    fn both_labels_appear() {
        let generated = reviews(200, 1);
        let positive = generated.iter().filter(|r| r.label > 0.0).count();
        assert!((60..140).contains(&positive), "{positive} positive of 200");
    }
}
