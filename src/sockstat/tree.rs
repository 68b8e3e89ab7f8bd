//! A small tree drawn with `├─`, `└─` and `│`, as `tree(1)` and `pstree`
//! draw theirs. Its text comes escaped: every byte from a process or
//! `/proc` went through [`crate::escape`] before it became a node.

/// One line of the tree and the lines under it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Node {
    /// The line's text, escaped, without a newline.
    pub text: String,
    /// The nodes under it, in order.
    pub children: Vec<Node>,
}

impl Node {
    /// A node with no children yet.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            children: Vec::new(),
        }
    }

    /// Adds `child` under it.
    pub fn push(&mut self, child: Node) -> &mut Self {
        self.children.push(child);
        self
    }

    /// Adds a leaf line under it.
    pub fn leaf(&mut self, text: impl Into<String>) -> &mut Self {
        self.push(Node::new(text))
    }

    /// With `child` under it.
    pub fn with(mut self, child: Node) -> Self {
        self.children.push(child);
        self
    }
}

/// Appends `root` and everything under it to `out`, one line each.
pub fn render(out: &mut String, root: &Node) {
    out.push_str(&root.text);
    out.push('\n');
    let mut prefix = String::new();
    children(out, &root.children, &mut prefix);
}

fn children(out: &mut String, nodes: &[Node], prefix: &mut String) {
    for (i, node) in nodes.iter().enumerate() {
        let last = i + 1 == nodes.len();
        out.push_str(prefix);
        out.push_str(if last { "└─ " } else { "├─ " });
        out.push_str(&node.text);
        out.push('\n');
        let kept = prefix.len();
        prefix.push_str(if last { "   " } else { "│  " });
        children(out, &node.children, prefix);
        prefix.truncate(kept);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branches_and_their_last_child() {
        let mut root = Node::new("root");
        let mut a = Node::new("a");
        a.leaf("a1").leaf("a2");
        root.push(a).push(Node::new("b").with(Node::new("b1")));
        let mut out = String::new();
        render(&mut out, &root);
        assert_eq!(out, "root\n├─ a\n│  ├─ a1\n│  └─ a2\n└─ b\n   └─ b1\n");
        let mut lone = String::new();
        render(&mut lone, &Node::new("alone"));
        assert_eq!(lone, "alone\n");
    }
}
