//! NumPy's legacy global generator (`np.random.seed` + `np.random.choice`), reproduced exactly.
//!
//! The course picks its initial means with `np.random.seed(seed); np.random.choice(n, K,
//! replace=False)`. NumPy's legacy `RandomState` seeds an MT19937 with Knuth's initializer,
//! and `choice` without replacement takes the first K entries of `permutation(n)`, a
//! Fisher-Yates shuffle that draws each index by masked rejection sampling.

/// Mersenne Twister MT19937 with the 32-bit output of Matsumoto and Nishimura (1998).
pub struct Mt19937 {
    state: [u32; 624],
    index: usize,
}

impl Mt19937 {
    /// Seeds the generator as `init_genrand` does, which is what `np.random.seed(int)` calls.
    pub fn new(seed: u32) -> Mt19937 {
        let mut state = [0u32; 624];
        state[0] = seed;
        for i in 1..624 {
            let previous = state[i - 1];
            state[i] = 1_812_433_253u32
                .wrapping_mul(previous ^ (previous >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 { state, index: 624 }
    }

    /// Returns the next 32-bit output.
    pub fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    fn twist(&mut self) {
        for i in 0..624 {
            let y = (self.state[i] & 0x8000_0000) | (self.state[(i + 1) % 624] & 0x7fff_ffff);
            let mut next = self.state[(i + 397) % 624] ^ (y >> 1);
            if y & 1 == 1 {
                next ^= 0x9908_b0df;
            }
            self.state[i] = next;
        }
        self.index = 0;
    }

    /// Draws uniformly from `0..=max` as NumPy's legacy `random_interval` does: mask to the
    /// smallest covering power of two and reject values above `max`.
    fn interval(&mut self, max: u32) -> u32 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        for shift in [1, 2, 4, 8, 16] {
            mask |= mask >> shift;
        }
        loop {
            let value = self.next_u32() & mask;
            if value <= max {
                return value;
            }
        }
    }
}

/// Returns the rows `np.random.seed(seed); np.random.choice(n, k, replace=False)` picks.
///
/// The caller checks `k <= n`; populations beyond `u32::MAX` do not occur for user counts.
pub fn legacy_choice(seed: u32, n: usize, k: usize) -> Vec<usize> {
    let mut rng = Mt19937::new(seed);
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.interval(i as u32) as usize;
        order.swap(i, j);
    }
    order.truncate(k);
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mt19937_matches_reference_output() {
        // The reference implementation's init_genrand(5489) stream starts with these values.
        let mut rng = Mt19937::new(5489);
        let first: Vec<u32> = (0..3).map(|_| rng.next_u32()).collect();
        assert_eq!(first, vec![3_499_211_612, 581_869_302, 3_890_346_734]);
    }

    #[test]
    fn choice_matches_numpy_small_cases() {
        // np.random.seed(0); np.random.choice(20, 4, replace=False) -> [18, 1, 19, 8] (NumPy 1.x
        // and 2.x legacy RandomState).
        assert_eq!(legacy_choice(0, 20, 4), vec![18, 1, 19, 8]);
        assert_eq!(legacy_choice(1, 250, 2), vec![67, 249]);
    }
}
