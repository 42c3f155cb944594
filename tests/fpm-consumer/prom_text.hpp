// Test helper: a strict parser of the Prometheus text exposition format
// 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/), to
// check what the metrics renderer writes. It reports every violation:
// a sample before its family's TYPE, a family split in two, HELP/TYPE given
// twice, bad metric or label names, bad escapes, unparsable values, a
// duplicate series, a histogram whose buckets are not cumulative or lack
// +Inf, _sum or _count.
#pragma once

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace evpnmon::test::prom {

struct Sample {
	std::string name;
	std::map<std::string, std::string> labels; // unescaped values
	std::string value_text;
	double value = 0;
};

struct Family {
	std::string name, help, type;
	bool has_help = false;
	std::vector<Sample> samples;
};

struct Exposition {
	std::vector<std::string> errors;
	std::vector<Family> families; // in order of appearance

	const Family *family(const std::string &name) const
	{
		for (const auto &f : families)
			if (f.name == name)
				return &f;
		return nullptr;
	}
	// Value of the sample `name` with exactly these labels.
	std::optional<double> value(const std::string &name,
				    const std::map<std::string, std::string> &labels = {}) const
	{
		for (const auto &f : families)
			for (const auto &s : f.samples)
				if (s.name == name && s.labels == labels)
					return s.value;
		return std::nullopt;
	}
	std::optional<std::string> value_text(const std::string &name,
					      const std::map<std::string, std::string> &labels = {}) const
	{
		for (const auto &f : families)
			for (const auto &s : f.samples)
				if (s.name == name && s.labels == labels)
					return s.value_text;
		return std::nullopt;
	}
};

inline bool metric_name_ok(const std::string &n)
{
	if (n.empty() || !(std::isalpha(static_cast<unsigned char>(n[0])) || n[0] == '_' || n[0] == ':'))
		return false;
	for (char c : n)
		if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':'))
			return false;
	return true;
}

inline bool label_name_ok(const std::string &n)
{
	if (n.empty() || !(std::isalpha(static_cast<unsigned char>(n[0])) || n[0] == '_') ||
	    n.rfind("__", 0) == 0)
		return false;
	for (char c : n)
		if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_'))
			return false;
	return true;
}

inline std::optional<double> parse_value(const std::string &v)
{
	if (v == "+Inf")
		return INFINITY;
	if (v == "-Inf")
		return -INFINITY;
	if (v == "NaN")
		return NAN;
	if (v.empty())
		return std::nullopt;
	char *end = nullptr;
	const double d = std::strtod(v.c_str(), &end);
	if (end != v.c_str() + v.size() || std::isinf(d) || std::isnan(d))
		return std::nullopt;
	return d;
}

// HELP text: only \\ and \n escapes.
inline std::optional<std::string> unescape_help(const std::string &t)
{
	std::string out;
	for (std::size_t i = 0; i < t.size(); ++i) {
		if (t[i] != '\\') {
			out += t[i];
			continue;
		}
		if (++i == t.size())
			return std::nullopt;
		if (t[i] == '\\')
			out += '\\';
		else if (t[i] == 'n')
			out += '\n';
		else
			return std::nullopt;
	}
	return out;
}

inline Exposition parse(const std::string &text)
{
	Exposition e;
	auto err = [&](std::size_t line_no, const std::string &what) {
		e.errors.push_back("line " + std::to_string(line_no) + ": " + what);
	};
	if (!text.empty() && text.back() != '\n')
		e.errors.push_back("does not end with a newline");
	std::set<std::string> closed;        // families that may not appear again
	std::set<std::string> series;        // name + labels, for duplicates
	Family *cur = nullptr;
	auto start_family = [&](const std::string &name, std::size_t ln) -> Family * {
		if (cur && cur->name == name)
			return cur;
		if (cur)
			closed.insert(cur->name);
		if (closed.count(name))
			err(ln, "family " + name + " appears twice (not contiguous)");
		e.families.push_back({name, "", "", false, {}});
		cur = &e.families.back();
		return cur;
	};
	std::istringstream in(text);
	std::string line;
	std::size_t ln = 0;
	while (std::getline(in, line)) {
		++ln;
		if (line.empty()) {
			err(ln, "empty line");
			continue;
		}
		if (line[0] == '#') {
			std::istringstream ls(line);
			std::string hash, kw, name;
			ls >> hash >> kw >> name;
			if (hash != "#" || (kw != "HELP" && kw != "TYPE")) {
				err(ln, "unexpected comment: " + line);
				continue;
			}
			if (!metric_name_ok(name)) {
				err(ln, "bad metric name '" + name + "'");
				continue;
			}
			const std::string prefix = "# " + kw + " " + name;
			const std::string rest = line.size() > prefix.size() + 1 ? line.substr(prefix.size() + 1) : "";
			Family *f = start_family(name, ln);
			if (kw == "HELP") {
				if (f->has_help)
					err(ln, "second HELP for " + name);
				if (!f->samples.empty())
					err(ln, "HELP after samples of " + name);
				const auto h = unescape_help(rest);
				if (!h)
					err(ln, "bad escape in HELP of " + name);
				f->help = h.value_or("");
				f->has_help = true;
			} else {
				if (!f->type.empty())
					err(ln, "second TYPE for " + name);
				if (!f->samples.empty())
					err(ln, "TYPE after samples of " + name);
				if (rest != "counter" && rest != "gauge" && rest != "histogram" &&
				    rest != "summary" && rest != "untyped")
					err(ln, "bad TYPE '" + rest + "'");
				f->type = rest;
			}
			continue;
		}
		// sample
		Sample s;
		std::size_t i = 0;
		while (i < line.size() && line[i] != '{' && line[i] != ' ')
			++i;
		s.name = line.substr(0, i);
		if (!metric_name_ok(s.name))
			err(ln, "bad sample name '" + s.name + "'");
		std::string canon = s.name + "{";
		if (i < line.size() && line[i] == '{') {
			++i;
			while (i < line.size() && line[i] != '}') {
				std::size_t eq = line.find('=', i);
				if (eq == std::string::npos) {
					err(ln, "label without '='");
					break;
				}
				const std::string lname = line.substr(i, eq - i);
				if (!label_name_ok(lname))
					err(ln, "bad label name '" + lname + "'");
				if (eq + 1 >= line.size() || line[eq + 1] != '"') {
					err(ln, "label value not quoted");
					break;
				}
				std::string val;
				std::size_t j = eq + 2;
				bool closed_quote = false;
				for (; j < line.size(); ++j) {
					if (line[j] == '"') {
						closed_quote = true;
						break;
					}
					if (line[j] == '\\') {
						if (++j == line.size())
							break;
						if (line[j] == '\\')
							val += '\\';
						else if (line[j] == '"')
							val += '"';
						else if (line[j] == 'n')
							val += '\n';
						else
							err(ln, "bad escape in label value");
					} else {
						val += line[j];
					}
				}
				if (!closed_quote) {
					err(ln, "unterminated label value");
					break;
				}
				if (s.labels.count(lname))
					err(ln, "label " + lname + " given twice");
				s.labels[lname] = val;
				i = j + 1;
				if (i < line.size() && line[i] == ',')
					++i;
			}
			if (i >= line.size() || line[i] != '}') {
				err(ln, "unterminated label set");
				continue;
			}
			++i;
		}
		for (const auto &[k, v] : s.labels)
			canon += k + "=" + v + ",";
		if (i >= line.size() || line[i] != ' ') {
			err(ln, "no value");
			continue;
		}
		std::string rest = line.substr(i + 1);
		const auto sp = rest.find(' ');
		s.value_text = rest.substr(0, sp);
		if (sp != std::string::npos) {
			const std::string ts = rest.substr(sp + 1);
			if (ts.empty() || ts.find_first_not_of("-0123456789") != std::string::npos)
				err(ln, "bad timestamp");
		}
		const auto v = parse_value(s.value_text);
		if (!v)
			err(ln, "bad value '" + s.value_text + "'");
		s.value = v.value_or(0);
		if (!series.insert(canon).second)
			err(ln, "duplicate series " + canon);
		// the family: same name, or a histogram's _bucket/_sum/_count
		if (!cur) {
			err(ln, "sample before any TYPE");
			continue;
		}
		bool belongs = s.name == cur->name;
		if (cur->type == "histogram")
			belongs = s.name == cur->name + "_bucket" || s.name == cur->name + "_sum" ||
				  s.name == cur->name + "_count";
		if (!belongs)
			err(ln, "sample " + s.name + " outside its family (no TYPE line before it?)");
		if (cur->type.empty())
			err(ln, "sample of " + cur->name + " before its TYPE");
		if (s.labels.count("le") && cur->type != "histogram")
			err(ln, "le label outside a histogram");
		cur->samples.push_back(std::move(s));
	}
	// histograms: cumulative buckets ending in +Inf = _count, and a _sum
	for (const auto &f : e.families) {
		if (!f.has_help)
			e.errors.push_back("no HELP for " + f.name);
		if (f.type.empty())
			e.errors.push_back("no TYPE for " + f.name);
		if (f.type == "counter" && (f.name.size() < 6 || f.name.substr(f.name.size() - 6) != "_total"))
			e.errors.push_back("counter " + f.name + " does not end in _total");
		if (f.type != "histogram")
			continue;
		double last_le = -INFINITY, last_count = 0;
		bool has_inf = false, has_sum = false, has_count = false;
		double count = -1;
		for (const auto &s : f.samples) {
			if (s.name == f.name + "_bucket") {
				const auto le = parse_value(s.labels.count("le") ? s.labels.at("le") : "");
				if (!le) {
					e.errors.push_back(f.name + ": bucket without a valid le");
					continue;
				}
				if (!(*le > last_le))
					e.errors.push_back(f.name + ": le not increasing");
				if (s.value < last_count)
					e.errors.push_back(f.name + ": buckets not cumulative");
				last_le = *le;
				last_count = s.value;
				has_inf |= std::isinf(*le) && *le > 0;
			} else if (s.name == f.name + "_sum") {
				has_sum = true;
			} else if (s.name == f.name + "_count") {
				has_count = true;
				count = s.value;
			}
		}
		if (!has_inf)
			e.errors.push_back(f.name + ": no +Inf bucket");
		if (!has_sum || !has_count)
			e.errors.push_back(f.name + ": no _sum or _count");
		if (has_inf && has_count && last_count != count)
			e.errors.push_back(f.name + ": +Inf bucket differs from _count");
	}
	return e;
}

} // namespace evpnmon::test::prom
